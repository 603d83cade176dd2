"""Broken inputs end with their documented exit code and a located message with a hint, never a traceback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from .project import MODEL_CONFIG, ROWS, TOML, project, run_adapt

Files = dict[str, str | bytes | None]
TOML_LINES = len(TOML.splitlines())  # a table appended with toml(extra=...) starts on the next line
APPENDED = TOML_LINES + 1


def toml(old: str = "", new: str = "", extra: str = "") -> str:
    """adapt.toml with `old` replaced by `new` (which must occur) and `extra` appended."""
    assert old in TOML
    return (TOML.replace(old, new, 1) if old else TOML) + extra


@dataclass(frozen=True)
class Case:
    """One broken input: files over the base project, the command, its exit code, text the message must hold."""

    id: str
    files: Files
    needles: tuple[str, ...]
    args: tuple[str, ...] = ("plan",)
    code: int = 3


def c(id: str, files: Files, *needles: str, args: tuple[str, ...] = ("plan",), code: int = 3) -> Case:
    return Case(id, files, needles, args, code)


def t(id: str, old: str, new: str, *needles: str, extra: str = "") -> Case:
    """A case that edits adapt.toml only."""
    return c(id, {"adapt.toml": toml(old, new, extra)}, *needles)


def e(id: str, extra: str, *needles: str) -> Case:
    """A case that appends to adapt.toml only."""
    return c(id, {"adapt.toml": toml(extra=extra)}, *needles)


L = APPENDED
CONFIG_CASES = [
    # TOML syntax: file:line:column
    e("toml-unclosed-table", "[rag\n", f"adapt.toml:{L}:", "TOML syntax error"),
    t("toml-unterminated-string", 'name = "tiny"', 'name = "tiny', "adapt.toml:2:", "TOML syntax error"),
    t("toml-duplicate-key", 'task = "qa"', 'task = "qa"\ntask = "qa"', "adapt.toml:4:", "TOML syntax error"),
    t("toml-bare-value", 'task = "qa"', "task = qa", "adapt.toml:3:", "TOML syntax error"),
    e("toml-duplicate-table", "[icl]\nshots = 2\n", f"adapt.toml:{L}:", "TOML syntax error"),
    # wrong types
    t("type-project-name", 'name = "tiny"', "name = 5", "adapt.toml:2: project.name", "got 5"),
    t("type-project-seed", 'task = "qa"', 'task = "qa"\nseed = "0"', "adapt.toml:4: project.seed"),
    t(
        "type-trust-remote-code",
        'base = "model"',
        'base = "model"\ntrust_remote_code = "yes"',
        "adapt.toml:7: model.trust_remote_code",
    ),
    t("type-params", 'base = "model"', 'base = "model"\nparams = "lots"', "adapt.toml:7: model.params", "7B"),
    t(
        "type-knowledge-paths-string",
        "[data.examples]",
        '[data.knowledge]\npaths = "docs"\n\n[data.examples]',
        "adapt.toml:9: data.knowledge.paths",
    ),
    c("type-table-is-value", {"adapt.toml": "rag = 3\n" + TOML}, "adapt.toml:1: rag", "expected a table"),
    t(
        "type-strategy-include-string",
        'include = ["icl"]',
        'include = "icl"',
        "adapt.toml:12: strategy.include",
    ),
    e(
        "type-lora-batch-size",
        '[lora]\nbatch_size = "big"\n',
        f"adapt.toml:{L + 1}: lora.batch_size",
        'an integer or "auto"',
    ),
    # wrong enums
    t("enum-task", 'task = "qa"', 'task = "translate"', "adapt.toml:3: project.task", "'translate'"),
    t(
        "enum-examples-format",
        'path = "data/train.jsonl"',
        'path = "data/train.jsonl"\nformat = "yaml"',
        "adapt.toml:10: data.examples.format",
    ),
    e(
        "enum-tolerance",
        '[needs]\nhallucination_tolerance = "none"\n',
        f"adapt.toml:{L + 1}: needs.hallucination",
    ),
    e("enum-device", '[hardware.train]\ndevice = "tpu"\n', f"adapt.toml:{L + 1}: hardware.train.device"),
    e("enum-metric", '[goal]\nmetric = "bleu"\ntarget = 0.5\n', f"adapt.toml:{L + 1}: goal.metric"),
    t("enum-strategy", 'include = ["icl"]', 'include = ["magic"]', "adapt.toml:12: strategy.include[0]"),
    t("enum-selection", 'selection = "first"', 'selection = "random"', "adapt.toml:17: icl.selection"),
    # out of range
    t("range-seed", 'task = "qa"', 'task = "qa"\nseed = -1', "adapt.toml:4: project.seed", "got -1"),
    t("range-shots", "shots = 1", "shots = 1000", "adapt.toml:16: icl.shots", "got 1000"),
    e("range-budget", "[constraints]\nbudget_usd = -5.0\n", f"adapt.toml:{L + 1}: constraints.budget_usd"),
    e(
        "range-prompt-tokens",
        "[constraints]\nmax_prompt_tokens = 1\n",
        f"adapt.toml:{L + 1}: constraints.max_prompt_tokens",
    ),
    e("range-gpu-count", "[hardware.train]\ncount = 0\n", f"adapt.toml:{L + 1}: hardware.train.count"),
    e(
        "range-goal-target",
        '[goal]\nmetric = "accuracy"\ntarget = 2.0\n',
        f"adapt.toml:{L}: goal",
        "at most 1",
    ),
    e("range-top-k", "[rag]\ntop_k = 0\n", f"adapt.toml:{L + 1}: rag.top_k"),
    e(
        "range-chunk-overlap",
        "[rag]\nchunk_size = 64\nchunk_overlap = 64\n",
        f"adapt.toml:{L}: rag",
        "chunk_overlap (64) must be smaller",
    ),
    e("range-lora-dropout", "[lora]\ndropout = 1.5\n", f"adapt.toml:{L + 1}: lora.dropout"),
    e(
        "range-scratch-heads",
        "[model.scratch]\nhidden = 66\nheads = 4\n",
        "model.scratch",
        "must be a multiple of heads",
    ),
    t(
        "strategy-both",
        'exclude = ["rag",',
        'exclude = ["icl", "rag",',
        "strategy",
        "icl cannot be both included and excluded",
    ),
    # unknown keys at every level
    e("unknown-top-table", '[projet]\nname = "x"\n', f"adapt.toml:{L}: projet", "unknown key 'projet'"),
    t("unknown-project-key", 'task = "qa"', 'tsk = "qa"', "adapt.toml:3: project.tsk", "did you mean 'task'"),
    t(
        "unknown-model-key",
        'base = "model"',
        'base = "model"\nrevison = "x"',
        "adapt.toml:7: model.revison",
        "did you mean 'revision'",
    ),
    t(
        "unknown-data-table",
        "[data.examples]",
        "[data.exampels]",
        "adapt.toml:8: data.exampels",
        "did you mean 'examples'",
    ),
    t(
        "unknown-examples-key",
        'path = "data/train.jsonl"',
        'path = "data/train.jsonl"\npaths = ["x"]',
        "adapt.toml:10: data.examples.paths",
    ),
    e("unknown-hardware-key", "[hardware.train]\ngpus = 2\n", f"adapt.toml:{L + 1}: hardware.train.gpus"),
    e(
        "unknown-scratch-key",
        "[model.scratch]\nlayer = 2\n",
        f"adapt.toml:{L + 1}: model.scratch.layer",
        "did you mean 'layers'",
    ),
    e("unknown-lora-key", "[lora]\nrank = 8\n", f"adapt.toml:{L + 1}: lora.rank", "known keys"),
    t("unknown-icl-key", "shots = 1", "shot = 1", "adapt.toml:16: icl.shot", "did you mean 'shots'"),
    # missing required parts and unreadable files
    c(
        "missing-project-table",
        {"adapt.toml": TOML.replace('[project]\nname = "tiny"\ntask = "qa"\n', "")},
        "adapt.toml: project: required table, but missing",
    ),
    t("missing-project-name", 'name = "tiny"\n', "", "adapt.toml:1: project.name: required"),
    c(
        "toml-not-utf8",
        {"adapt.toml": toml('name = "tiny"', 'name = "caf\xe9"').encode("latin-1")},
        "adapt.toml",
        "not UTF-8",
    ),
    c("no-adapt-toml", {"adapt.toml": None}, "no adapt.toml in", "adapt init"),
]

DATA_CASES = [
    # missing files and empty globs
    t(
        "missing-examples-file",
        "data/train.jsonl",
        "data/nope.jsonl",
        "data.examples.path",
        "data/nope.jsonl",
    ),
    c(
        "missing-eval-file",
        {"adapt.toml": toml(extra='[data.eval]\npath = "data/eval.jsonl"\n')},
        "data.eval.path",
        "data/eval.jsonl",
    ),
    c(
        "examples-path-is-directory",
        {"adapt.toml": toml("data/train.jsonl", "data"), "data/x.jsonl": ROWS},
        "data.examples.path",
    ),
    e(
        "empty-glob",
        '[data.knowledge]\npaths = ["docs/*.md"]\n',
        "data.knowledge.paths[0]",
        "docs/*.md",
        "matches no files",
    ),
    e("missing-template", 'template = "templates/nope.j2"\n', "icl.template", "templates/nope.j2"),
    # damaged data files
    c("empty-examples", {"data/train.jsonl": ""}, "data.examples.path", "data/train.jsonl is empty"),
    c("blank-lines-only", {"data/train.jsonl": "\n\n  \n"}, "data.examples.path", "data/train.jsonl"),
    c("binary-examples", {"data/train.jsonl": b"\x00\x01\x02\xff\xfe" * 50}, "data/train.jsonl:1"),
    c(
        "latin1-examples",
        {"data/train.jsonl": '{"question": "caf\xe9?", "answer": "oui"}\n'.encode("latin-1")},
        "data/train.jsonl:1",
        "not UTF-8",
        "iconv",
    ),
    c(
        "huge-row",
        {"data/train.jsonl": json.dumps({"question": "x " * 2_000_000, "answer": "a"}) + "\n"},
        "strategy.include",
        "prompt budget",
        "max_prompt_tokens",
    ),
    c(
        "jsonl-all-broken",
        {"data/train.jsonl": '{"question": "x",\n{"answer": \n'},
        "data/train.jsonl:1",
        "data/train.jsonl:2",
    ),
    c("jsonl-not-objects", {"data/train.jsonl": '[1, 2]\n"x"\n'}, "data/train.jsonl:1", "JSON object"),
    c("json-wrong-fields", {"data/train.jsonl": '{"a": 1}\n'}, "data/train.jsonl:1", "found keys: a"),
    c(
        "csv-missing-columns",
        {"adapt.toml": toml("train.jsonl", "train.csv"), "data/train.csv": "foo,bar\n1,2\n"},
        "data/train.csv:2",
        "found keys: bar, foo",
    ),
    c(
        "csv-header-only",
        {"adapt.toml": toml("train.jsonl", "train.csv"), "data/train.csv": "question,answer\n"},
        "data.examples.path",
        "data/train.csv",
    ),
    c(
        "field-wrong-type",
        {"data/train.jsonl": '{"question": 5, "answer": ["x"]}\n' * 3},
        "data/train.jsonl:1",
        '"question" must be a string',
    ),
    c("messages-wrong-type", {"data/train.jsonl": '{"messages": "hello"}\n'}, "data/train.jsonl:1"),
    c(
        "messages-bad-role",
        {"data/train.jsonl": '{"messages": [{"role": 1, "content": "x"}]}\n'},
        "data/train.jsonl:1",
    ),
    c(
        "eval-without-answers",
        {
            "adapt.toml": toml(extra='[data.eval]\npath = "data/eval.jsonl"\n'),
            "data/eval.jsonl": '{"question": "q?"}\n',
        },
        "data/eval.jsonl:1",
        "found keys: question",
    ),
    # templates: the render step fails (exit 1) naming template file and line
    c(
        "template-syntax-error",
        {"adapt.toml": toml(extra='template = "t.j2"\n'), "t.j2": "ok\n{% for x in %}"},
        "t.j2:2",
        "template syntax error",
        args=("build",),
        code=1,
    ),
    c(
        "template-undefined-variable",
        {"adapt.toml": toml(extra='template = "t.j2"\n'), "t.j2": "{{ nosuch.attr }}"},
        "t.j2:1",
        "'nosuch' is undefined",
        args=("build",),
        code=1,
    ),
    # the model directory
    c(
        "model-without-config-json",
        {"model/config.json": None, "model/tokenizer.json": "{}"},
        "model.base = 'model'",
        "has no config.json",
    ),
    c("model-config-not-json", {"model/config.json": "{not json"}, "model/config.json", "cannot read"),
    c("model-config-array", {"model/config.json": "[1, 2]"}, "model/config.json", "JSON object"),
    c(
        "model-config-no-shape",
        {"model/config.json": '{"model_type": "llama"}'},
        "model/config.json",
        "no hidden size",
    ),
    c(
        "model-pickle-weights-only",
        {"model/pytorch_model.bin": b"\x80\x04pickle"},
        "model.base = 'model'",
        "pytorch_model.bin",
        "safetensors",
    ),
]

ACCEPTED_CASES = [
    # inputs that are odd but valid: success, with a warning naming the problem where there is one
    c("examples-with-bom", {"data/train.jsonl": b"\xef\xbb\xbf" + ROWS.encode()}, "tiny", code=0),
    c("examples-with-crlf", {"data/train.jsonl": ROWS.replace("\n", "\r\n")}, "tiny", code=0),
    c(
        "toml-with-bom-and-crlf",
        {"adapt.toml": b"\xef\xbb\xbf" + TOML.replace("\n", "\r\n").encode()},
        "tiny",
        code=0,
    ),
    c(
        "jsonl-one-broken-line",
        {"data/train.jsonl": ROWS + '{"question": "x",\n'},
        "data/train.jsonl:5",
        "1 bad rows skipped",
        code=0,
    ),
    c(
        "params-disagree-with-config",
        {"adapt.toml": toml('base = "model"', 'base = "model"\nparams = "7B"')},
        "model.params = '7B' disagrees with model/config.json",
        "using config.json",
        code=0,
    ),
    c(
        "model-text-config-not-table",
        {"model/config.json": json.dumps({**MODEL_CONFIG, "text_config": 3})},
        "tiny",
        code=0,
    ),
]


def check_error(done, code: int, needles: tuple[str, ...]) -> None:
    """The documented exit code, `error: …` with a hint, every needle, and no traceback."""
    assert done.returncode == code, done.stdout[-2000:] + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    assert "\nerror: " in "\n" + done.stderr, done.stderr
    assert "\n  hint: " in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, f"{needle!r} not in:\n{done.stderr}"


@pytest.mark.parametrize("case", CONFIG_CASES + DATA_CASES, ids=lambda case: case.id)
def test_broken_input(case: Case, tmp_path: Path) -> None:
    """Each broken input ends with its exit code and a message naming file, key or line, and the fix."""
    root = project(tmp_path, case.files)
    check_error(run_adapt("-C", str(root), *case.args), case.code, case.needles)


@pytest.mark.parametrize("case", ACCEPTED_CASES, ids=lambda case: case.id)
def test_odd_but_valid_input(case: Case, tmp_path: Path) -> None:
    """BOM, CRLF, one broken line among good ones, a contradicted model.params: plan succeeds and says so."""
    root = project(tmp_path, case.files)
    done = run_adapt("-C", str(root), *case.args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for needle in case.needles:
        assert needle in done.stdout + done.stderr, needle


def test_missing_file_option_names_the_path(tmp_path: Path) -> None:
    """--file pointing nowhere is a configuration error naming the path."""
    check_error(run_adapt("--file", str(tmp_path / "nope.toml"), "plan"), 3, ("nope.toml", "no such file"))


def _lock(root: Path) -> dict:
    return json.loads((root / "adapt.lock").read_text())


def _corrupt_lock(root: Path, mode: str) -> None:
    lock = root / "adapt.lock"
    if mode == "not-json":
        lock.write_text("{ this is not json")
    elif mode == "empty":
        lock.write_bytes(b"")
    elif mode == "binary":
        lock.write_bytes(b"\x00\xff\xfe garbage")
    elif mode == "array":
        lock.write_text("[1, 2, 3]")
    elif mode == "future-schema":
        lock.write_text(json.dumps({**_lock(root), "schema": 99}))
    elif mode == "no-schema":
        lock.write_text(json.dumps({k: v for k, v in _lock(root).items() if k != "schema"}))
    elif mode == "steps-wrong-type":
        lock.write_text(json.dumps({**_lock(root), "steps": 5}))
    elif mode == "step-entry-wrong-type":
        lock.write_text(json.dumps({**_lock(root), "steps": {"examples.load": "x"}}))


LOCK_MODES = {
    "not-json": ("adapt.lock", "not valid JSON", "delete it"),
    "empty": ("adapt.lock", "not valid JSON"),
    "binary": ("adapt.lock", "not valid JSON"),
    "array": ("adapt.lock", "lock schema ? is not 1"),
    "future-schema": ("adapt.lock", "lock schema 99 is newer", "upgrade adaptfile"),
    "no-schema": ("adapt.lock", "lock schema ? is not 1"),
    "steps-wrong-type": ("adapt.lock", "malformed lock", "steps"),
    "step-entry-wrong-type": ("adapt.lock", "malformed lock", "steps.examples.load"),
}


@pytest.mark.parametrize("mode", list(LOCK_MODES))
def test_damaged_lock(built_copy: Path, mode: str) -> None:
    """A corrupt adapt.lock, or one from a future schema, stops `adapt build` with exit 3 naming the file and fix."""
    _corrupt_lock(built_copy, mode)
    check_error(run_adapt("-C", str(built_copy), "build"), 3, LOCK_MODES[mode])


@pytest.mark.parametrize("command", [("status", "--json"), ("build", "--frozen"), ("gc",)], ids=" ".join)
@pytest.mark.parametrize("mode", ["steps-wrong-type", "future-schema"])
def test_damaged_lock_every_command(built_copy: Path, mode: str, command: tuple[str, ...]) -> None:
    """Every command that reads adapt.lock reports the damage the same way (gc and --frozen used to crash)."""
    _corrupt_lock(built_copy, mode)
    check_error(run_adapt("-C", str(built_copy), *command), 3, LOCK_MODES[mode])


def _entry(root: Path, step: str) -> Path:
    key = _lock(root)["steps"][step]["key"]
    return root / ".adapt" / "cache" / key[:2] / key


@pytest.mark.parametrize("damage", ["output-bytes", "output-missing", "meta-not-json"])
def test_corrupt_cache_entry_is_rebuilt(built_copy: Path, damage: str) -> None:
    """A damaged cache entry is reported, dropped and rebuilt; the build still succeeds."""
    entry = _entry(built_copy, "examples.load")
    outputs = sorted(p for p in (entry / "out").rglob("*") if p.is_file())
    if damage == "output-bytes":
        outputs[0].write_text("garbage")
    elif damage == "output-missing":
        outputs[0].unlink()
    else:
        (entry / "meta.json").write_text("{bad")
    status = run_adapt("-C", str(built_copy), "status", "--json")
    assert status.returncode == 0, status.stderr
    stale = {s["step"]: s for s in json.loads(status.stdout)["steps"]}["examples.load"]
    assert stale["state"] == "stale" and stale["reasons"], stale
    done = run_adapt("-C", str(built_copy), "build")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "run examples.load" in done.stdout
    assert run_adapt("-C", str(built_copy), "status", "--check").returncode == 0


def test_corrupt_state_file_is_ignored(built_copy: Path) -> None:
    """A damaged stat cache (.adapt/state) only costs re-hashing: the build stays up to date."""
    (built_copy / ".adapt" / "state").write_bytes(b"\x00junk")
    done = run_adapt("-C", str(built_copy), "build")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
