"""Random adapt.toml documents built from the schema: accepted, or the tool's own ConfigError."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptfile.config import parse_config
from adaptfile.config.schema import schema_text
from adaptfile.errors import ConfigError

SCHEMA = json.loads(schema_text())
DEFS = SCHEMA["$defs"]

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def _table_schema(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a nested table, following $ref and anyOf [..., null]."""
    for option in [prop, *prop.get("anyOf", [])]:
        ref = option.get("$ref")
        if ref:
            return DEFS[ref.rsplit("/", 1)[1]]
    return None


def _typed_values(prop: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """Values of the type the schema declares (often in range), so documents also pass."""
    kinds = {option.get("type") for option in [prop, *prop.get("anyOf", [])]} - {None, "null"}
    options = []
    if "integer" in kinds:
        options.append(st.integers(min_value=-2, max_value=5000))
    if "number" in kinds:
        options.append(st.floats(min_value=-1, max_value=10, allow_nan=False))
    if "boolean" in kinds:
        options.append(st.booleans())
    if "string" in kinds:
        options.append(st.text(max_size=12))
    if "array" in kinds:
        options.append(st.lists(st.text(max_size=8), max_size=3))
    return st.one_of(options) if options else None


def _enum_values(prop: dict[str, Any]) -> list[Any]:
    found = list(prop.get("enum", []))
    for option in prop.get("anyOf", []):
        found += option.get("enum", []) + ([option["const"]] if "const" in option else [])
    return found


@st.composite
def table(draw: st.DrawFn, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """A TOML table shaped like `schema`, with wrong types, bad enums and unknown keys mixed in."""
    out: dict[str, Any] = {}
    properties = schema.get("properties", {})
    for name in draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []:
        prop = properties[name]
        nested = _table_schema(prop)
        if nested is not None and depth < 3 and draw(st.booleans()):
            out[name] = draw(table(nested, depth + 1))
        elif _enum_values(prop) and draw(st.booleans()):
            out[name] = draw(st.sampled_from(_enum_values(prop)))
        elif _typed_values(prop) is not None and draw(st.integers(0, 3)):
            out[name] = draw(_typed_values(prop))
        else:
            out[name] = draw(values)
    if draw(st.integers(0, 4)) == 0:
        out[draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10))] = draw(values)
    return out


@st.composite
def document(draw: st.DrawFn) -> dict[str, Any]:
    """A random document; half of them start from the required [project] name and [model] base."""
    doc = draw(table(SCHEMA))
    if draw(st.booleans()):
        doc = {"project": {"name": "p"}, "model": {"base": "m"}} | {
            k: v for k, v in doc.items() if k not in ("project", "model")
        }
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_loader_accepts_or_raises_config_error(doc: dict[str, Any]) -> None:
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # a value TOML cannot hold (e.g. mixed-type arrays in old writers)
        return
    try:
        parse_config(text)
    except ConfigError as error:
        assert error.render()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_exception(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text)
