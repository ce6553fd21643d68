"""Tests of harness.reader._skim against a byte-at-a-time model of the exact scanner.

The model is the exact path's depth counter written the slow, obvious way: inside a string a
backslash escapes the next byte and brackets do not count; outside, ``[{`` is +1, ``]}`` is -1
(kinds not matched), and everything else, backslashes included, is a plain byte.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.reader import ItemFormat, ItemReader, _exact, _skim
from tests.reader.test_reader import VALUES, expected_counts, feed_all, spaced

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def model(buf: bytes, a: int, b: int, depth: int, in_str: bool) -> tuple[int, int, bool, bool]:
    """The scanner from ``a`` (not inside an escape) to ``b``: the lowest depth reached, the
    depth and in-string state at ``b``, and whether ``b`` is inside an escape."""
    low, esc = depth, False
    for c in buf[a:b]:
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
            low = min(low, depth)
    return low, depth, in_str, esc


def model_end(buf: bytes, a: int, depth: int, in_str: bool) -> int:
    """Where the element ends (the byte after the bracket that reaches depth 0), or -1."""
    for b in range(a + 1, len(buf) + 1):
        if model(buf, a, b, depth, in_str)[0] == 0:
            return b
    return -1


def refused(buf: bytes, a: int, b: int, in_str: bool) -> bool:
    """Regions the skim may refuse: a ``\\"`` or a 0x01 byte outside a string."""
    esc = False
    for i in range(a, b):
        c = buf[i]
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
            continue
        if c == 0x01 or (c == 0x5C and buf[i + 1 : i + 2] == b'"'):
            return True
        in_str = c == 0x22
    return False


# Bytes that matter: quotes, backslashes (runs of them), brackets, the marker byte; and filler.
NOISE = st.lists(
    st.sampled_from([b'"', b"\\", b"\\\\", b'\\"', b"{", b"}", b"[", b"]", b"a", b",", b"\x01"]),
    max_size=80,
).map(b"".join)


@SETTINGS
@given(buf=NOISE, in_str=st.booleans(), data=st.data())
def test_region_counts_what_the_scanner_sees(buf: bytes, in_str: bool, data: st.DataObject) -> None:
    a = data.draw(st.integers(0, len(buf)))
    b = data.draw(st.integers(a, len(buf)))
    if model(buf, 0, a, 1, in_str)[3] or model(buf, 0, b, 1, in_str)[3]:
        return  # regions never start or end inside an escape
    in_str = model(buf, 0, a, 1, in_str)[2]
    got = _skim._region(bytearray(buf), a, b, in_str=in_str)
    if got is None:
        assert refused(buf, a, b, in_str)
        return
    low, depth, after, _ = model(buf, a, b, 0, in_str)
    assert got == (-low, depth - low, after)


@SETTINGS
@given(
    buf=NOISE,
    in_str=st.booleans(),
    depth=st.integers(1, 4),
    piece=st.integers(0, 9),
    first=st.integers(0, 12),
)
def test_skim_stops_where_the_scanner_would_be(
    buf: bytes, in_str: bool, depth: int, piece: int, first: int
) -> None:
    saved, _skim.PIECE = _skim.PIECE, piece
    try:
        sp, d, s = _skim.skim(bytearray(buf), 0, len(buf), depth, in_str=in_str, first=first)
    finally:
        _skim.PIECE = saved
    low, want_d, want_s, esc = model(buf, 0, sp, depth, in_str)
    assert (d, s, esc) == (want_d, want_s, False)
    assert low > 0  # the element has not ended before sp
    if refused(buf, 0, len(buf), in_str):
        return
    end = model_end(buf, 0, depth, in_str)
    stop = len(buf) if end < 0 else end
    # the piece left to the scanner is short, or starts with backslashes (never cut there)
    assert stop - sp <= max(piece, 1) or buf[sp] == 0x5C


def test_unmatched_counts_deep_nesting_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    brackets = b"}}" + b"{" * 40 + b"}" * 39 + b"{{"
    assert _skim._unmatched(brackets) == (2, 3)
    monkeypatch.setattr(_skim, "_PASSES", 1)
    assert _skim._unmatched(brackets) == (2, 3)


@SETTINGS
@given(data=st.data(), in_str=st.booleans())
def test_json_text_cut_anywhere(data: st.DataObject, in_str: bool) -> None:
    # real JSON (escapes, brackets in strings, non-ASCII): the skim agrees with the model at
    # every region boundary that is not inside an escape
    value = data.draw(st.lists(VALUES, min_size=1, max_size=4))
    text = data.draw(spaced(value))
    a = data.draw(st.integers(0, len(text)))
    before = model(text, 0, a, 0, False)
    if before[3]:
        return
    got = _skim._region(bytearray(text), a, len(text), in_str=before[2])
    low, depth, after, _ = model(text, a, len(text), 0, before[2])
    assert got == (-low, depth - low, after)


# -- the framer with skimming --------------------------------------------------------------


def dense(i: int, rows: int) -> dict[str, Any]:
    """An item of many small rows, with the bytes that trip a scanner in some of them."""
    text = ["x", '},{"id":', "[", 'a\\"}', "\\", "é€"]
    return {
        "id": i,
        "rows": [{"k": k, "s": text[k % 6], "v": [k, k * 0.5]} for k in range(rows)],
        "n": rows,
    }


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize("chunk", [7, 1000, 4096, 65536])
def test_dense_items_are_skimmed_and_exact(
    monkeypatch: pytest.MonkeyPatch, decode: bool, chunk: int
) -> None:
    items = [dense(i, 3000) for i in range(3)]
    body = orjson.dumps(items)
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    skimmed: list[int] = []
    original = _skim._region

    def spy(buf: bytearray, a: int, b: int, *, in_str: bool) -> Any:
        skimmed.append(b - a)
        return original(buf, a, b, in_str=in_str)

    monkeypatch.setattr(_skim, "_region", spy)
    got, counts = feed_all(ItemReader(ItemFormat.JSON_ARRAY, decode=decode), chunks)
    assert (got if decode else [orjson.loads(g) for g in got]) == items
    assert counts == expected_counts(body, chunks)
    if chunk >= 4096:  # most bytes are skimmed, each a bounded number of times
        assert 0.7 * len(body) < sum(skimmed) < 3 * len(body)


def test_skimming_off_gives_the_same_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [dense(i, 500) for i in range(4)]
    body = orjson.dumps(items, option=orjson.OPT_INDENT_2)
    chunks = [body[i : i + 3000] for i in range(0, len(body), 3000)]
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    on = [reader.feed(chunk) for chunk in chunks]
    monkeypatch.setattr(_exact, "SKIM", False)
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    assert [reader.feed(chunk) for chunk in chunks] == on
    assert [len(feed) for feed in on] == expected_counts(body, chunks)


def test_a_dense_item_costs_no_more_to_follow_than_to_decode() -> None:
    # generous: following a 1 MB item of small rows costs ~0.1-0.2x its decode; the regex
    # scanner alone costs ~1.5-2x
    item = {"rows": [{"k": k, "name": f"row {k}", "tags": ["p", "q"]} for k in range(20_000)]}
    body = b"[" + orjson.dumps(item) + b"]"
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    def follow() -> float:
        reader = ItemReader(ItemFormat.JSON_ARRAY, decode=False)
        t0 = time.perf_counter()
        for chunk in chunks:
            reader.feed(chunk)
        return time.perf_counter() - t0

    def decode() -> float:
        t0 = time.perf_counter()
        orjson.loads(body)
        return time.perf_counter() - t0

    assert min(follow() for _ in range(5)) < min(decode() for _ in range(5))
