"""Tests of harness.results.records: streams.jsonl round trip, flushing, torn lines and errors."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.results import RecordsError
from harness.results.records import LoadedRecords, StreamsWriter, read_records

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
records = st.lists(
    st.dictionaries(st.text(max_size=12), scalars, max_size=6),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(batch=records, many=st.booleans())
def test_write_then_read_is_identity(batch: list[dict[str, Any]], many: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "streams.jsonl"
        writer = StreamsWriter(path)
        if many:
            writer.write_many(batch)
        else:
            for record in batch:
                writer.write(record)
        writer.close()
        assert writer.written == len(batch)
        loaded = read_records(path)
    assert loaded.records == batch
    assert loaded.bad_lines == []


def test_writes_are_visible_to_another_reader_before_close(tmp_path: Path) -> None:
    path = tmp_path / "streams.jsonl"
    writer = StreamsWriter(path)
    writer.write({"env": "Test", "n": 1})
    assert read_records(path).records == [{"env": "Test", "n": 1}]
    writer.write_many([{"n": 2}, {"n": 3}])
    with path.open("rb") as other:  # an independent handle sees every byte already
        assert other.read().count(b"\n") == 3
    writer.close()


def test_writer_appends_to_an_existing_file_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "streams.jsonl"
    first = StreamsWriter(path)
    first.write({"n": 1})
    first.close()
    second = StreamsWriter(path)
    second.write({"n": 2})
    second.write_many([])  # nothing to write is fine
    second.close()
    assert [r["n"] for r in read_records(path).records] == [1, 2]


def test_torn_last_line_is_listed_and_the_rest_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "streams.jsonl"
    writer = StreamsWriter(path)
    writer.write_many([{"n": 1}, {"n": 2}, {"n": 3}])
    writer.close()
    with path.open("ab") as file:
        file.write(b'{"env": "Produc')  # a crash in the middle of a write
    loaded = read_records(path)
    assert [r["n"] for r in loaded.records] == [1, 2, 3]
    assert loaded.bad_lines == [4]


def test_non_object_lines_are_bad_and_blank_lines_ignored(tmp_path: Path) -> None:
    path = tmp_path / "streams.jsonl"
    path.write_bytes(b'{"n": 1}\n\n[1, 2]\n   \n"text"\n{"n": 2}\n')
    loaded = read_records(path)
    assert loaded.records == [{"n": 1}, {"n": 2}]
    assert loaded.bad_lines == [3, 5]


def test_empty_file_reads_as_no_records(tmp_path: Path) -> None:
    path = tmp_path / "streams.jsonl"
    path.write_bytes(b"")
    assert read_records(path) == LoadedRecords()


def test_unreadable_path_is_a_records_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(RecordsError, match=r"cannot read .*missing\.jsonl"):
        read_records(missing)
    with pytest.raises(RecordsError, match="cannot read"):
        read_records(tmp_path)  # a directory


def test_unwritable_path_is_a_records_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RecordsError, match="cannot open"):
        StreamsWriter(blocker / "streams.jsonl")


def test_write_after_close_is_a_records_error(tmp_path: Path) -> None:
    writer = StreamsWriter(tmp_path / "streams.jsonl")
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(RecordsError, match="closed"):
        writer.write({"n": 1})
    with pytest.raises(RecordsError, match="closed"):
        writer.write_many([{"n": 1}])
    assert writer.written == 0
