"""Security: trust_remote_code only from adapt.toml, safetensors only, sandboxed templates, no leaked secrets."""

from __future__ import annotations

import ast
import json
import re
import sys
import types
from pathlib import Path

import pytest

import adaptfile
from adaptfile.errors import ConfigError

from .project import SECRETS, TOML, project, run_adapt

SRC = Path(adaptfile.__file__).parent
LOADERS = {"from_pretrained", "SentenceTransformer"}


def _calls(name_filter) -> list[tuple[str, ast.Call]]:
    """(file:line, call) for every call in src/adaptfile whose callee name passes `name_filter`."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and name_filter(node.func):
                found.append((f"{path.relative_to(SRC)}:{node.lineno}", node))
    return found


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _receiver(func: ast.expr) -> str:
    return _name(func.value) if isinstance(func, ast.Attribute) else ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_model_load(func: ast.expr) -> bool:
    receiver = _receiver(func)
    return _name(func) == "from_pretrained" and (
        receiver.startswith("AutoModel") or receiver.endswith("ForCausalLM")
    )


def test_trust_remote_code_is_never_hard_wired_on() -> None:
    """No loader call passes trust_remote_code=True, nor **kwargs that could smuggle it in."""
    calls = _calls(lambda f: _name(f) in LOADERS)
    assert calls, "expected model/tokenizer loaders in src/"
    for where, call in calls:
        value = _keyword(call, "trust_remote_code")
        assert not (isinstance(value, ast.Constant) and value.value is not False), where
        smuggled = [k for k in call.keywords if k.arg is None and "trust" in ast.unparse(k.value)]
        assert not smuggled, where


def test_trust_remote_code_never_read_from_environment_or_flags() -> None:
    """trust_remote_code comes only from model.trust_remote_code: no env variable, no CLI option reads it."""
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if re.search(r"\benviron\b|getenv", line):
                assert "trust_remote" not in line.lower(), f"{path}: {line}"
        if path.parent.name == "cli":
            assert "trust_remote" not in text.lower() and "trust-remote" not in text.lower(), path


@pytest.mark.parametrize(
    ("setting", "expected"), [("", False), ("trust_remote_code = true\n", True)], ids=["unset", "set"]
)
def test_plan_takes_trust_remote_code_from_config_only(tmp_path: Path, setting: str, expected: bool) -> None:
    """Planted env variables and `--trust-remote-code` style flags never switch it on; adapt.toml does."""
    toml = TOML.replace('base = "model"\n', f'base = "model"\n{setting}')
    root = project(tmp_path, {"adapt.toml": toml})
    env = {"TRUST_REMOTE_CODE": "1", "HF_HUB_TRUST_REMOTE_CODE": "1", "ADAPT_TRUST_REMOTE_CODE": "true"}
    done = run_adapt("-C", str(root), "plan", "--json", env=env)
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    flags = {
        s["params"]["model.trust_remote_code"] for s in steps if "model.trust_remote_code" in s["params"]
    }
    assert flags == {expected}
    assert run_adapt("-C", str(root), "plan", "--trust-remote-code").returncode == 2


@pytest.fixture
def fake_transformers(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Stand-ins for torch and transformers that record what loaders were asked (no ML import)."""
    seen: list[dict] = []

    class Loader:
        @classmethod
        def from_pretrained(cls, location, **kwargs):
            seen.append({"location": location, **kwargs})
            return types.SimpleNamespace(pad_token_id=0)

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(float32="float32", bfloat16="bf16"))
    fake = types.SimpleNamespace(AutoModelForCausalLM=Loader, AutoTokenizer=Loader)
    monkeypatch.setitem(sys.modules, "transformers", fake)
    return seen


def test_training_loader_passes_flag_and_safetensors(
    tmp_path: Path, fake_transformers: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training loader forwards only the flag it is given and asks for safetensors weights."""
    from adaptfile.train import models

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRUST_REMOTE_CODE", "1")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    models.load_tokenizer(str(tmp_path), None)
    models.load_base(str(tmp_path), None, "lora", "fp32")
    assert [call.get("trust_remote_code") for call in fake_transformers] == [False, False]
    assert fake_transformers[1]["use_safetensors"] is True


def test_training_loader_refuses_pickle_only_directory(tmp_path: Path, fake_transformers: list[dict]) -> None:
    """A model directory with only pytorch_model.bin is refused before anything unpickles it."""
    from adaptfile.train import models

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ConfigError) as err:
        models.load_base(str(tmp_path), None, "lora", "fp32")
    assert str(tmp_path) in err.value.message and "safe_serialization=True" in (err.value.hint or "")
    assert fake_transformers == []


def test_model_loads_ask_for_safetensors() -> None:
    """Every AutoModel*/…ForCausalLM.from_pretrained outside runtime/ passes use_safetensors=True."""
    calls = [(w, c) for w, c in _calls(_is_model_load) if not w.startswith("runtime/")]
    assert calls
    for where, call in calls:
        value = _keyword(call, "use_safetensors")
        assert isinstance(value, ast.Constant) and value.value is True, where


def test_runtime_model_load_asks_for_safetensors() -> None:
    """The runtime's from_pretrained of the base model passes use_safetensors=True."""
    calls = [(w, c) for w, c in _calls(_is_model_load) if w.startswith("runtime/")]
    assert calls
    for where, call in calls:
        value = _keyword(call, "use_safetensors")
        assert isinstance(value, ast.Constant) and value.value is True, where


def test_no_unsafe_deserialisation() -> None:
    """torch.load only with weights_only=True; no pickle.load, no np.load with allow_pickle=True."""
    for where, call in _calls(
        lambda f: _name(f) == "load" and _receiver(f) in {"torch", "pickle", "np", "numpy"}
    ):
        receiver = _receiver(call.func)
        assert receiver != "pickle", where
        if receiver == "torch":
            value = _keyword(call, "weights_only")
            assert isinstance(value, ast.Constant) and value.value is True, where
        else:
            value = _keyword(call, "allow_pickle")
            assert value is None or (isinstance(value, ast.Constant) and value.value is False), where


def _planted(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def _files_text(root: Path) -> dict[str, str]:
    paths = [root / "adapt.lock", *(root / "build").rglob("*"), *(root / ".adapt").rglob("*")]
    return {str(p.relative_to(root)): p.read_bytes().decode("utf-8", "replace") for p in paths if p.is_file()}


def test_planted_secrets_never_written(built: tuple[Path, dict[str, str]]) -> None:
    """plan --json, build and status --json ran with planted secrets: no output or file holds them."""
    root, outputs = built
    for command, text in outputs.items():
        assert not _planted(text), command
    files = _files_text(root)
    assert "adapt.lock" in files and any(name.startswith(".adapt/logs/") for name in files)
    for name, text in files.items():
        assert not _planted(text), name


def test_template_sandbox_through_the_cli(tmp_path: Path) -> None:
    """A template reaching for Python internals fails the build (exit 1) naming the file; no secret leaks.

    The sandbox itself is tested in tests/prompt/test_template.py::test_sandbox_refuses_internals.
    """
    toml = TOML + 'template = "t.j2"\n'
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ cycler.__init__.__globals__.os.environ }}"
    root = project(tmp_path, {"adapt.toml": toml, "t.j2": escape})
    done = run_adapt("-C", str(root), "build", env=SECRETS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "t.j2" in done.stderr and "\n  hint: " in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "<class" not in done.stdout + done.stderr
    assert not _planted(done.stdout + done.stderr)
    for name, text in _files_text(root).items():
        assert not _planted(text), name
