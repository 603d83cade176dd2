"""Find and read adapt.toml; report every problem at once with its TOML path, line and fix."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from adaptfile.config.locate import key_lines, line_of
from adaptfile.config.model import AdaptConfig
from adaptfile.errors import ConfigError

CONFIG_NAME = "adapt.toml"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_DOCS_HINT = "see the adapt.toml reference in README.md, or run `adapt schema`"


@dataclass(frozen=True)
class Project:
    """A loaded adapt.toml: the validated config, its file, and the directory paths are relative to."""

    config: AdaptConfig
    path: Path
    root: Path


def find_config(directory: Path | None = None, file: Path | None = None) -> Path:
    """The adapt.toml to use: an explicit --file, else the one in -C DIR / the current directory."""
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: no such file", hint="check the path given to --file")
        return file
    path = (directory or Path()) / CONFIG_NAME  # relative in the current directory: messages name it so
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_NAME} in {directory or Path.cwd()}",
            hint="run `adapt init` to write a commented one, or point at a project with -C DIR / --file PATH",
        )
    return path


def load_project(directory: Path | None = None, file: Path | None = None) -> Project:
    """Find, parse and validate adapt.toml; raise one ConfigError that lists every problem."""
    path = find_config(directory, file)
    text = _read_text(path)
    config = parse_config(text, source=str(path))
    return Project(config=config, path=path, root=path.parent.resolve())


def parse_config(text: str, source: str = CONFIG_NAME) -> AdaptConfig:
    """Validate adapt.toml text; `source` names the file in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        position = _TOML_POSITION.search(message)
        where = f"{source}:{position.group(1)}:{position.group(2)}" if position else source
        message = _TOML_POSITION.sub("", message)
        raise ConfigError(
            f"{where}: TOML syntax error: {message}",
            hint="fix the syntax at that position (https://toml.io/en/v1.0.0)",
        ) from None
    try:
        return AdaptConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, text, source, data), hint=_DOCS_HINT) from None


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot read: {err.strerror}", hint="check the file's permissions"
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 (byte {err.start}): TOML files must be UTF-8",
            hint="re-save the file as UTF-8",
        ) from None


def _describe(err: ValidationError, text: str, source: str, data: dict[str, Any]) -> str:
    lines = key_lines(text)
    problems: dict[str, tuple[int, str]] = {}
    for item in err.errors(include_url=False):
        loc, union_field = _field_path(item["loc"], item["type"])
        dotted = _dotted(loc)
        if union_field:  # one message for all the branches of an `int | "auto"` style field
            message = f"expected {_expected(union_field)} (got {_shown(_value_at(data, loc))})"
        else:
            message = _message(item, loc)
        line = line_of(lines, loc if item["type"] != "missing" else loc[:-1])
        where = f"{source}:{line}" if line else source
        problems.setdefault(dotted, (line or 0, f"{where}: {dotted or '(top level)'}: {message}"))
    ordered = sorted(problems.values(), key=lambda p: p[0])
    count = len(ordered)
    header = f"{source}: {count} problem{'s' if count != 1 else ''} in the configuration"
    return "\n".join([header, *(f"  {text}" for _, text in ordered)])


def _field_path(loc: tuple[str | int, ...], kind: str) -> tuple[tuple[str | int, ...], Any]:
    """The TOML path of an error, and the field's annotation when pydantic tagged a union branch."""
    model: type[BaseModel] | None = AdaptConfig
    path: list[str | int] = []
    for index, part in enumerate(loc):
        if isinstance(part, int) or model is None:
            if isinstance(part, int):
                path.append(part)
            continue
        field = model.model_fields.get(part)
        if field is None:
            if kind == "extra_forbidden" and index == len(loc) - 1:
                path.append(part)
            continue
        path.append(part)
        branch_tagged = index + 1 < len(loc) and isinstance(loc[index + 1], str)
        if _is_union(field.annotation) and branch_tagged and _nested_model(field.annotation) is None:
            return tuple(path), field.annotation
        model = _nested_model(field.annotation)
    return tuple(path), None


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, UnionType)


def _expected(annotation: Any) -> str:
    """Describe a field's accepted TOML values in words: 'an integer or "auto"'."""
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    parts: list[str] = []
    for arg in get_args(annotation) or (annotation,):
        origin = get_origin(arg)
        if arg is type(None):
            continue
        if origin is Annotated or origin in (Union, UnionType):
            parts.append(_expected(get_args(arg)[0] if origin is Annotated else arg))
        elif origin is list:
            parts.append("an array of strings")
        elif origin is Literal:
            parts.extend(f'"{v}"' for v in get_args(arg))
        else:
            parts.append(names.get(arg, getattr(arg, "__name__", str(arg))))
    return " or ".join(dict.fromkeys(parts))


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _message(item: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required table, but missing" if _model_at(loc) else "required, but missing"
    msg = str(item["msg"]).removeprefix("Value error, ")
    value = item.get("input")
    if kind in ("model_type", "dict_type"):
        return f"expected a table, got {_toml_type(value)}"
    if isinstance(value, dict):  # a check across fields of one table: the message names them
        return msg
    return f"{msg} (got {_shown(value)})"


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    model = _model_at(loc[:-1])
    key = str(loc[-1])
    known = sorted(model.model_fields) if model else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    suggestion = f"; did you mean '{close[0]}'?" if close else ""
    allowed = f" (known keys: {', '.join(known)})" if known and not close else ""
    return f"unknown key '{key}'{suggestion}{allowed}"


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = AdaptConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        nested = _nested_model(field.annotation)
        if nested is None:
            return None
        model = nested
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found:
            return found
    return None


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    return text if len(text) <= 60 else text[:57] + "..."
