"""`python enospc_driver.py MODE STEP ADAPT-ARGS…`: run the adapt CLI with a disk that fills up at publish.

MODE says which write fails with OSError(ENOSPC), and only for step STEP:
  rename   the os.replace that moves the staged entry into .adapt/cache
  meta     the write of the staged meta.json (half of it is written first)
  lock     the write of adapt.lock's temporary file (half written); STEP is ignored
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

MODE, STEP = sys.argv[1], sys.argv[2]


def _full(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _staged_step(staging: Path) -> str | None:
    try:
        return json.loads((staging / "meta.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return None


if MODE == "rename":
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        src_path, dst_path = Path(src), Path(dst)
        moves = src_path.parent.name == "tmp" and dst_path.parent.parent.name == "cache"
        if moves and _staged_step(src_path) == STEP:
            raise _full(dst)
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
elif MODE in ("meta", "lock"):
    real_write_text, real_write_bytes = Path.write_text, Path.write_bytes

    def write_text(self, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        if MODE == "meta" and self.name == "meta.json" and json.loads(data).get("step") == STEP:
            real_write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise _full(self)
        return real_write_text(self, data, *args, **kwargs)

    def write_bytes(self, data):  # type: ignore[no-untyped-def]
        if MODE == "lock" and self.name.startswith(".adapt.lock."):
            real_write_bytes(self, data[: len(data) // 2])
            raise _full(self)
        return real_write_bytes(self, data)

    Path.write_text, Path.write_bytes = write_text, write_bytes  # type: ignore[method-assign]
else:
    raise SystemExit(f"unknown mode {MODE}")

from adaptfile.cli import main  # noqa: E402

main(sys.argv[3:])
