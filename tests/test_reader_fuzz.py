"""Hostile bodies for harness.reader: only ReaderError comes out, never a hang or a big buffer."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.reader import ItemFormat, ItemReader, ItemTooLargeError, ReaderError

FORMATS = [None, ItemFormat.JSON_ARRAY, ItemFormat.NDJSON, ItemFormat.SSE]
PER_EXAMPLE_S = 2.0  # a few ms normally; generous for a CPU shared with other jobs

# Bytes that matter to the framers, mixed into random noise so the fuzzer reaches deep states.
STRUCTURAL = st.sampled_from(
    [b"[", b"]", b"{", b"}", b",", b'"', b"\\", b":", b"\n", b"\r\n", b"data: ", b"\n\n",
     b"event: x\n", b": ping\n", b"id: 1\n", b" ", b"\xef\xbb\xbf", b"\xe2\x82", b"\xac", b"1",
     b"-0.5e3", b"true", b"null", b'"\\u00e9"', b"[DONE]", b"\x00", b"\xff"]
)  # fmt: skip
BODY = st.lists(st.one_of(STRUCTURAL, st.binary(max_size=12)), max_size=60).map(b"".join)


def _chunks(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def _run(reader: ItemReader, chunks: list[bytes]) -> list[Any]:
    """Feed then finish; return the items; a ReaderError kills the reader for good."""
    items: list[Any] = []
    try:
        for chunk in chunks:
            items += reader.feed(chunk)
        items += reader.finish()
    except ReaderError as exc:
        kind = type(exc)
        with pytest.raises(kind):  # a dead reader keeps saying why
            reader.feed(b"[1]")
    return items


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    body=BODY,
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    fmt=st.sampled_from(FORMATS),
    decode=st.booleans(),
    max_item_bytes=st.sampled_from([1, 7, 64, 16 * 1024 * 1024]),
)
def test_arbitrary_bytes_give_items_or_a_reader_error(
    body: bytes, cuts: list[int], fmt: ItemFormat | None, decode: bool, max_item_bytes: int
) -> None:
    reader = ItemReader(fmt, decode=decode, max_item_bytes=max_item_bytes)
    started = time.perf_counter()
    _run(reader, _chunks(body, cuts))  # anything but ReaderError fails the test
    assert time.perf_counter() - started < PER_EXAMPLE_S


@settings(max_examples=60, deadline=None, derandomize=True)
@given(body=BODY, fmt=st.sampled_from(FORMATS), decode=st.booleans())
def test_byte_by_byte_equals_all_at_once(body: bytes, fmt: ItemFormat | None, decode: bool) -> None:
    whole = ItemReader(fmt, decode=decode)
    single = ItemReader(fmt, decode=decode)
    a = _run(whole, [body])
    b = _run(single, [body[i : i + 1] for i in range(len(body))])
    assert len(a) == len(b)


# --- bounded buffering ---------------------------------------------------------------------

MAX_ITEM = 64 * 1024
CHUNK = 4096

# Bodies that never complete an item: each must be refused before the reader holds much more
# than max_item_bytes. An SSE event's size is its data: "data: zz\n" carries 3 of its 9 bytes.
ENDLESS_ITEMS = {
    "array string": (ItemFormat.JSON_ARRAY, b'["', b"x", 1),
    "array object": (ItemFormat.JSON_ARRAY, b'[{"a":[', b"1,", 1),
    "ndjson line": (ItemFormat.NDJSON, b"", b"y", 1),
    "sse event": (ItemFormat.SSE, b"data: ", b"z", 1),
    "sse data lines": (ItemFormat.SSE, b"", b"data: zz\n", 3),
}


@pytest.mark.parametrize("case", list(ENDLESS_ITEMS))
def test_an_endless_item_is_refused_near_max_item_bytes(case: str) -> None:
    fmt, head, filler, overhead = ENDLESS_ITEMS[case]
    reader = ItemReader(fmt, max_item_bytes=MAX_ITEM)
    chunk = (filler * (CHUNK // len(filler) + 1))[:CHUNK]
    reader.feed(head)
    fed = len(head)
    refused = False
    while fed < 100 * MAX_ITEM and not refused:
        fed += len(chunk)
        try:
            reader.feed(chunk)
        except ItemTooLargeError:
            refused = True
    assert refused, case
    assert fed <= overhead * MAX_ITEM + 2 * CHUNK, fed


def test_many_short_sse_data_lines_hold_no_more_than_their_data() -> None:
    """Regression: a list of tiny bytes objects held ~14x the data (43 MB for 3 MB)."""
    reader = ItemReader(ItemFormat.SSE)  # the default 16 MiB limit: never reached here
    chunk = b"data:ab\n" * 10_000  # 30 KB of event data per 80 KB chunk
    tracemalloc.start()
    try:
        for _ in range(40):
            reader.feed(chunk)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    data = 40 * 30_000
    assert held < 1.5 * data, (held, data)


# Bodies that are endless but hold no item content: nothing to keep, so memory stays flat.
ENDLESS_FILLER = {
    "array whitespace": (ItemFormat.JSON_ARRAY, b"[", b" \r\n\t"),
    "array items": (ItemFormat.JSON_ARRAY, b"[1", b",1"),
    "ndjson blank lines": (ItemFormat.NDJSON, b"", b"\n"),
    "ndjson items": (ItemFormat.NDJSON, b"", b"{}\n"),
    "sse comments": (ItemFormat.SSE, b"", b": keep-alive\n\n"),
    "sse events": (ItemFormat.SSE, b"", b"data: 1\n\n"),
}


@pytest.mark.parametrize("case", list(ENDLESS_FILLER))
def test_endless_filler_keeps_the_buffer_small(case: str) -> None:
    fmt, head, filler = ENDLESS_FILLER[case]
    reader = ItemReader(fmt, max_item_bytes=MAX_ITEM)
    chunk = filler * (CHUNK // len(filler))
    reader.feed(head)
    tracemalloc.start()
    try:
        for _ in range(40):  # 160 KiB, 2.5x max_item_bytes
            reader.feed(chunk)
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):  # 800 KiB more, 12x max_item_bytes
            reader.feed(chunk)
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - baseline < 2 * MAX_ITEM, (case, current - baseline)
