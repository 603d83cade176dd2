"""The checked-in JSON schema matches the model, and describes every field."""

from __future__ import annotations

import json
from pathlib import Path

from adaptfile.config.schema import SCHEMA_FILE, schema_text

REPO = Path(__file__).resolve().parents[2]


def test_checked_in_schema_is_current() -> None:
    checked_in = (REPO / SCHEMA_FILE).read_text(encoding="utf-8")
    assert checked_in == schema_text(), (
        "adaptfile.schema.json is stale: run `adapt schema > adaptfile.schema.json`"
    )


def test_every_field_has_a_title_and_description() -> None:
    schema = json.loads(schema_text())
    tables = [schema, *schema["$defs"].values()]
    for table in tables:
        for name, field in table.get("properties", {}).items():
            assert field.get("title"), name
            assert field.get("description"), name
