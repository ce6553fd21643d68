"""ItemReader.partial: does a fed chunk end inside an item, or between items."""

from __future__ import annotations

import pytest

from harness.reader import ItemFormat, ItemReader

CASES = [
    (
        ItemFormat.JSON_ARRAY,
        [(b"[", 0, False), (b'{"a":1}', 1, False), (b',{"a":{"b":2}', 0, True), (b"}", 1, False),
         (b",", 0, False), (b'{"x":1},{"y', 1, True), (b'":2}', 1, False), (b"]", 0, False)],
    ),
    (
        ItemFormat.NDJSON,
        [(b'{"a":1}', 0, True), (b"\n", 1, False), (b'{"b":2}\n{"c"', 1, True),
         (b":3}\n", 1, False), (b"\n\n", 0, False)],
    ),
    (
        ItemFormat.SSE,
        [(b"data: 1\n", 0, True), (b"\n", 1, False), (b"data: 2\n\ndata: 3", 1, True),
         (b"\n\n", 1, False), (b": comment\n", 0, False)],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "steps"), CASES, ids=[c[0].value for c in CASES])
def test_partial_says_whether_a_chunk_ended_inside_an_item(
    fmt: ItemFormat, steps: list[tuple[bytes, int, bool]]
) -> None:
    reader = ItemReader(fmt)
    for chunk, completed, partial in steps:
        assert len(reader.feed(chunk)) == completed, chunk
        assert reader.partial is partial, chunk


def test_an_unsniffed_reader_holds_nothing() -> None:
    reader = ItemReader()
    assert reader.partial is False
    reader.feed(b"  ")
    assert reader.partial is False
    reader.feed(b"[1")
    assert reader.partial is True
