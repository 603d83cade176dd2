"""Run the engine on a test project in a real process:
`python build_driver.py ROOT [--no-wait] [--json] [--frozen] [--remote URL]`.

The plan is read from ROOT/specs.json; the trivial kinds of engine_kinds.py are registered in-process.
Prints `IMPORTED=[...]` (heavy modules loaded) on stderr, and exits with the CLI's exit codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_kinds import register_kinds, spec_from_json

from adaptfile.engine import BuildOptions, LockMeta, build
from adaptfile.engine.remote import RemoteCache, RemoteSettings
from adaptfile.engine.reporter import JsonReporter, PlainReporter
from adaptfile.errors import AdaptError

HEAVY = ("torch", "transformers", "peft", "llama_index", "sentence_transformers", "numpy", "fsspec")


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    register_kinds()
    specs = [spec_from_json(s) for s in json.loads((root / "specs.json").read_text())]
    remote = RemoteCache(RemoteSettings(argv[argv.index("--remote") + 1])) if "--remote" in argv else None
    options = BuildOptions(wait="--no-wait" not in argv, frozen="--frozen" in argv, remote=remote)
    reporter = JsonReporter() if "--json" in argv else PlainReporter()
    try:
        result = build(
            root, specs, LockMeta(("rag",), {"base": "tiny", "revision": "main"}), options, reporter
        )
    except AdaptError as err:
        print(f"error: {err.render()}", file=sys.stderr)
        return err.exit_code
    return 0 if result.ok else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
    print("IMPORTED=" + json.dumps(heavy), file=sys.stderr)
    sys.exit(code)
