"""Write knowledge/big/corpus.md: the manual repeated to 1 MB, then grown (sparsely) to 4.8 GB."""

from pathlib import Path

manual = "\n".join(path.read_text(encoding="utf-8") for path in sorted(Path("knowledge/manual").glob("*.md")))
corpus = Path("knowledge/big/corpus.md")
corpus.parent.mkdir(parents=True, exist_ok=True)
with corpus.open("w", encoding="utf-8") as out:
    out.write(manual * (1_000_000 // len(manual) + 1))
    out.truncate(4_800_000_000)
