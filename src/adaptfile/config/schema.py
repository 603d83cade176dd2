"""The JSON schema of adapt.toml, generated from the pydantic model."""

from __future__ import annotations

import json

from adaptfile.config.model import AdaptConfig

SCHEMA_FILE = "adaptfile.schema.json"


def schema_text() -> str:
    """Deterministic JSON-schema text, as checked in at the repo root."""
    schema = AdaptConfig.model_json_schema(mode="validation")
    for table in [schema, *schema["$defs"].values()]:
        for name, field in table.get("properties", {}).items():
            field.setdefault("title", name.replace("_", " ").title())  # pydantic omits it beside $ref
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["$id"] = "https://github.com/adaptfile/adaptfile/" + SCHEMA_FILE
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
