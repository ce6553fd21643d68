"""harness.results.atomic: the old file or the new one, never half, and no temp file left."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import FlowloadError
from harness.results import ResultsError, write_atomic


class _MyError(FlowloadError):
    pass


def test_text_and_bytes_replace_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    assert write_atomic(path, "first") == path
    write_atomic(path, b"second \xe2\x9c\x93")
    assert path.read_bytes() == b"second \xe2\x9c\x93"
    write_atomic(path, "third ✓")
    assert path.read_text(encoding="utf-8") == "third ✓"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_missing_directory_is_an_error_unless_parents_are_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.txt"
    with pytest.raises(ResultsError, match=r"cannot write .*out\.txt"):
        write_atomic(path, "x")
    write_atomic(path, "x", parents=True)
    assert path.read_text(encoding="utf-8") == "x"


def test_a_failed_rename_raises_the_callers_error_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "occupied"
    path.mkdir()
    (path / "inside").write_text("x", encoding="utf-8")  # a rename onto it fails
    with pytest.raises(_MyError, match="cannot write"):
        write_atomic(path, "new", error=_MyError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied"]
