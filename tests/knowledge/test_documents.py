"""Loading knowledge files: stable ids, titles, formats, and files that are not text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptfile.errors import ConfigError
from adaptfile.knowledge.documents import load_documents, require_files


def test_ids_are_relative_paths_in_order(corpus: Path) -> None:
    result = load_documents(corpus, ["docs/wifi.txt", "docs/router.md", "docs/billing.md"])
    assert [d.id for d in result.documents] == ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]
    assert [d.title for d in result.documents] == ["Billing", "Router manual", "Wifi setup"]
    assert result.skipped == []


def test_text_is_the_file_text(corpus: Path) -> None:
    (doc,) = load_documents(corpus, ["docs/router.md"]).documents
    assert doc.text == (corpus / "docs/router.md").read_text(encoding="utf-8")
    assert str(corpus) not in json.dumps(doc.to_json())


def test_binary_latin1_empty_and_unsupported(tree) -> None:
    root = tree(
        {
            "k/binary.txt": b"\x00\x01\x02PNG\x00" * 50,
            "k/latin.txt": "Caf\xe9 cr\xe8me: na\xefve r\xe9sum\xe9.".encode("latin-1"),
            "k/empty.md": "",
            "k/image.png": b"\x89PNG\r\n",
            "k/ok.md": "fine",
        }
    )
    files = ["k/binary.txt", "k/latin.txt", "k/empty.md", "k/image.png", "k/ok.md"]
    result = load_documents(root, files)
    assert [d.path for d in result.documents] == ["k/latin.txt", "k/ok.md"]
    assert result.documents[0].text.startswith("Café crème")
    reasons = dict(result.skipped)
    assert set(reasons) == {"k/binary.txt", "k/empty.md", "k/image.png"}
    assert "binary" in reasons["k/binary.txt"]
    [warning] = result.warnings()
    assert (
        warning.startswith("3 knowledge file(s) skipped: k/binary.txt (binary") and "k/image.png (" in warning
    )


def test_records_html_and_rst(tree) -> None:
    root = tree(
        {
            "k/faq.jsonl": '{"body": "First answer."}\n{"body": "Second answer."}\n{"other": 1}\n',
            "k/page.html": "<html><head><title>Page</title><style>p{}</style></head>"
            "<body><p>Hello &amp; welcome.</p><script>x()</script><p>Bye.</p></body></html>",
            "k/guide.rst": "Guide\n=====\n\nSome text.\n",
        }
    )
    docs = {
        d.path: d
        for d in load_documents(root, ["k/faq.jsonl", "k/page.html", "k/guide.rst"], "body").documents
    }
    assert docs["k/faq.jsonl"].text == "First answer.\n\nSecond answer."
    assert docs["k/page.html"].text == "Hello & welcome.\n\nBye."
    assert docs["k/page.html"].title == "Page"
    assert docs["k/guide.rst"].title == "Guide"


def test_records_without_the_text_field_are_skipped(tree) -> None:
    root = tree({"k/faq.jsonl": '{"body": "x"}\n'})
    result = load_documents(root, ["k/faq.jsonl"])
    assert result.documents == []
    assert "text_field" in result.skipped[0][1]


def test_glob_matching_nothing_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"docs/\*\*/\*\.md.*matched no files") as err:
        require_files([], ["docs/**/*.md"])
    assert err.value.hint
