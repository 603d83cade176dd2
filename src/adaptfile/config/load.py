"""Find and read adapt.toml; report every problem at once with its TOML path, line and fix."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    path = (directory or Path.cwd()) / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_NAME} in {path.parent}",
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
        raise ConfigError(f"{path}: cannot read: {err.strerror}", hint="check the file's permissions") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 (byte {err.start}): TOML files must be UTF-8",
            hint="re-save the file as UTF-8",
        ) from None


def _describe(err: ValidationError, text: str, source: str, data: dict[str, Any]) -> str:
    lines = key_lines(text)
    problems = []
    seen: set[tuple[str, str]] = set()
    for item in err.errors(include_url=False):
        loc = _field_path(item["loc"])
        dotted = _dotted(loc)
        message = _message(item, loc, data)
        if (dotted, message) in seen:
            continue
        seen.add((dotted, message))
        line = line_of(lines, loc) if item["type"] != "missing" else line_of(lines, loc[:-1])
        where = f"{source}:{line}" if line else source
        problems.append((line or 0, f"{where}: {dotted or '(top level)'}: {message}"))
    problems.sort(key=lambda p: p[0])
    count = len(problems)
    header = f"{source}: {count} problem{'s' if count != 1 else ''} in the configuration"
    return "\n".join([header, *(f"  {text}" for _, text in problems)])


def _field_path(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch and validator tags so the path is the TOML path."""
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]|^function-", p))


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _message(item: dict[str, Any], loc: tuple[str | int, ...], data: dict[str, Any]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required, but missing"
    msg = str(item["msg"]).removeprefix("Value error, ")
    if kind in ("model_type", "dict_type"):
        return f"expected a table, got {_toml_type(item.get('input'))}"
    return f"{msg} (got {_shown(item.get('input'))})"


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
