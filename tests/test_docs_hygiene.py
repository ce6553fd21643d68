"""Documents and code speak of the product: no words about how they were made, no dead links.

Checked: every text file under docs/, examples/, harness/, benchmarks/, locustfiles/ and the
README. And .gitignore ignores no file that is in the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("docs", "examples", "harness", "benchmarks", "locustfiles")
TEXT = {".md", ".py", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ini"}
# Wording about the making of a document, not about the product.
MAKING = re.compile(
    r"\bissue\s*#?\d+|\bthe issue'?s\b|\bREADME section\b|\bfrom the \"\w+\" task\b"
    r"|\bfor the lead\b|\bthe brief\b|\b(?:other|another) helpers?\b|\bthe \w+ helper\b"
    r"|\b(?:first|second) round\b|\bdocs/notes/",
    re.IGNORECASE,
)
LINK = re.compile(r"(?<![\w/.-])((?:docs|examples)/[\w./-]*\.(?:md|toml|yml|yaml|png|bin))\b")


def _files() -> list[Path]:
    found = [REPO / "README.md"]
    for top in SCANNED:
        found += [p for p in (REPO / top).rglob("*") if p.is_file() and p.suffix in TEXT]
    return sorted(p for p in found if "__pycache__" not in p.parts)


def test_the_scan_covers_the_documents() -> None:
    names = {p.relative_to(REPO).as_posix() for p in _files()}
    assert {
        "README.md",
        "docs/gates.md",
        "docs/benchmarks.md",
        "examples/ci/scenario.toml",
    } <= names


def test_the_pattern_finds_what_it_is_for() -> None:
    made = ('# Gates (README section, from the "gates" task)', "## Benchmarks (issue 8)",
            "see docs/notes/gates.md", "## For the lead", "other helpers were running")  # fmt: skip
    for text in made:
        assert MAKING.search(text), text
    for text in ("@task", "RunSession", "a 401 says which env", "test helpers in tests/servers.py"):
        assert not MAKING.search(text), text


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_words_about_how_it_was_made(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    hits = [
        f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for m in MAKING.finditer(text)
    ]
    assert hits == []


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_linked_document_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = sorted({m for m in LINK.findall(text) if not (REPO / m).exists()})
    assert missing == []


def test_gitignore_ignores_no_tracked_file() -> None:
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked_but_ignored == []
