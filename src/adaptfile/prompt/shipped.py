"""Find the Jinja2 templates adaptfile ships, one per task kind."""

from __future__ import annotations

from pathlib import Path

import adaptfile

_PACKAGE_DIR = Path(adaptfile.__file__).parent


def shipped_templates_dir() -> Path:
    """The shipped templates: inside the wheel (adaptfile/templates) or the source checkout's templates/."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parents[1] / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("adaptfile's templates/ directory is missing from this installation")


def shipped_template(task: str) -> Path:
    """The shipped template for a task kind (qa, classify, extract, summarize, chat, generate)."""
    return shipped_templates_dir() / f"{task}.j2"
