"""`adapt init`: write a commented adapt.toml, a starter template and .gitignore lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from adaptfile.config import CONFIG_NAME, parse_config
from adaptfile.errors import ConfigError
from adaptfile.prompt.shipped import shipped_template
from adaptfile.scaffold.text import GITIGNORE_LINES, SCRATCH_DOC, adapt_toml_text


def init_project(directory: Path, task: str, name: str | None = None, scratch: bool = False) -> list[Path]:
    """Scaffold a project in `directory`; refuse to overwrite anything. Returns the files written.
    With `scratch`: a tiny model trained on docs/, and a starter page there so it plans and builds at once."""
    config_path = directory / CONFIG_NAME
    template_path = directory / "templates" / f"{task}.j2"
    doc_path = directory / "docs" / "README.md"
    for existing in (config_path, template_path, *([doc_path] if scratch else [])):
        if existing.exists():
            raise ConfigError(
                f"{existing} already exists; adapt init never overwrites files",
                hint="edit the existing file, or run `adapt init` in an empty directory",
            )
    project_name = name or _project_name(directory)
    text = adapt_toml_text(project_name, task, scratch)
    parse_config(text, source=str(config_path))  # the scaffold must always be a valid config
    directory.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text, encoding="utf-8")
    template_path.parent.mkdir(exist_ok=True)
    shutil.copyfile(shipped_template(task), template_path)
    written = [config_path, template_path]
    if scratch and not any((directory / "docs").glob("**/*.md")):
        doc_path.parent.mkdir(exist_ok=True)
        doc_path.write_text(SCRATCH_DOC, encoding="utf-8")
        written.append(doc_path)
    if _append_gitignore(directory / ".gitignore"):
        written.append(directory / ".gitignore")
    return written


def _project_name(directory: Path) -> str:
    name = directory.resolve().name.strip() or "my-project"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def _append_gitignore(path: Path) -> bool:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    missing = [line for line in GITIGNORE_LINES if line not in text.splitlines()]
    if not missing:
        return False
    with path.open("a", encoding="utf-8") as out:
        if text and not text.endswith("\n"):
            out.write("\n")
        out.write("\n".join(["# adaptfile", *missing]) + "\n")
    return True
