"""Tests of harness.reader: incremental framing of JSON arrays, NDJSON and SSE.

The oracle is ``orjson.loads`` of the whole body; a small byte-at-a-time reference scanner
(``completion_points``) says *when* (at which byte) each array element is complete, so the number
of items each ``feed`` returns is checked too, not only the final list.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import FlowloadError
from harness.reader import (
    ItemFormat,
    ItemReader,
    ItemTooLargeError,
    MalformedError,
    ReaderError,
    TruncatedError,
    format_from_content_type,
)

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ------------------------------------------------------------------------------

TEXT = st.text(
    st.one_of(
        st.sampled_from([*'",]}[{\\/: \n\t\x00\x1f', "é", "€", "😀", "\u2028"]),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
WS = st.sampled_from([b"", b"", b" ", b"\n", b"\r\n", b"\t", b"  \n  "])


@st.composite
def spaced(draw: st.DrawFn, value: Any) -> bytes:
    """Serialise ``value`` with random whitespace between all tokens."""
    if isinstance(value, list):
        parts = [draw(spaced(v)) for v in value]
        sep = draw(WS) + b"," + draw(WS)
        return b"[" + draw(WS) + sep.join(parts) + draw(WS) + b"]"
    if isinstance(value, dict):
        members = [
            orjson.dumps(k) + draw(WS) + b":" + draw(WS) + draw(spaced(v)) for k, v in value.items()
        ]
        return b"{" + draw(WS) + (draw(WS) + b"," + draw(WS)).join(members) + draw(WS) + b"}"
    return orjson.dumps(value)


@st.composite
def array_bodies(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    items = draw(st.lists(VALUES, max_size=12))
    style = draw(st.sampled_from(["compact", "indent", "spaced"]))
    if style == "compact":
        body = orjson.dumps(items)
    elif style == "indent":
        body = orjson.dumps(items, option=orjson.OPT_INDENT_2)
    else:
        body = draw(WS) + draw(spaced(items)) + draw(WS)
    return orjson.loads(body), body


@st.composite
def cuts(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """Split ``body`` at random offsets (sometimes into single bytes)."""
    if draw(st.integers(0, 9)) == 0:
        return [body[i : i + 1] for i in range(len(body))]
    points = sorted(draw(st.lists(st.integers(0, len(body)), max_size=12)))
    bounds = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


# -- reference ------------------------------------------------------------------------------


def _string_end(body: bytes, i: int) -> int:
    """Index just after the string whose opening quote is at ``i``."""
    j = i + 1
    while body[j : j + 1] != b'"':
        j += 2 if body[j : j + 1] == b"\\" else 1
    return j + 1


def _scalar_end(body: bytes, i: int) -> int:
    while body[i : i + 1] not in b" \t\r\n,]}":
        i += 1
    return i


def completion_points(body: bytes) -> list[int]:
    """For each element of a valid JSON array body: bytes needed before it is complete.

    A container or string is complete at its last byte; a number/literal at the delimiter after.
    """
    points: list[int] = []
    depth = 0
    i = body.index(b"[") + 1
    while i < len(body):
        c = body[i : i + 1]
        if c == b'"':
            i = _string_end(body, i)
            if depth == 0:
                points.append(i)
            continue
        if c in b"{[":
            depth += 1
        elif c in b"}]":
            if depth == 0:
                break
            depth -= 1
            if depth == 0:
                points.append(i + 1)
        elif c not in b" \t\r\n,:":
            i = _scalar_end(body, i)
            if depth == 0:
                points.append(i + 1)
            continue
        i += 1
    return points


def feed_until_error(
    reader: ItemReader, chunks: list[bytes], *, finish: bool = True
) -> tuple[list[Any], ReaderError | None]:
    """Feed chunks (and finish); return the items, including those carried by the error."""
    items: list[Any] = []
    try:
        for chunk in chunks:
            items += reader.feed(chunk)
        if finish:
            items += reader.finish()
    except ReaderError as err:
        return items + err.items, err
    return items, None


def feed_all(reader: ItemReader, chunks: list[bytes]) -> tuple[list[Any], list[int]]:
    """Feed every chunk; return all items (incl. finish) and the count per feed."""
    items: list[Any] = []
    counts: list[int] = []
    for chunk in chunks:
        got = reader.feed(chunk)
        counts.append(len(got))
        items += got
    items += reader.finish()
    return items, counts


def expected_counts(body: bytes, chunks: list[bytes]) -> list[int]:
    points = completion_points(body)
    counts, fed, k = [], 0, 0
    for chunk in chunks:
        fed += len(chunk)
        n = k
        while n < len(points) and points[n] <= fed:
            n += 1
        counts.append(n - k)
        k = n
    return counts


# -- JSON array properties ----------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_array_split_anywhere_same_items_same_timing(data: st.DataObject) -> None:
    expected, body = data.draw(array_bodies())
    chunks = data.draw(cuts(body))
    fmt = data.draw(st.sampled_from([None, ItemFormat.JSON_ARRAY]))
    reader = ItemReader(fmt)
    items, counts = feed_all(reader, chunks)
    assert items == expected
    assert counts == expected_counts(body, chunks)
    assert reader.complete
    assert reader.format is ItemFormat.JSON_ARRAY
    assert reader.bytes_fed == len(body)


@SETTINGS
@given(st.data())
def test_array_raw_mode_yields_item_bytes(data: st.DataObject) -> None:
    expected, body = data.draw(array_bodies())
    chunks = data.draw(cuts(body))
    items, counts = feed_all(ItemReader(ItemFormat.JSON_ARRAY, decode=False), chunks)
    assert all(isinstance(item, bytes) for item in items)
    assert [orjson.loads(item) for item in items] == expected
    assert counts == expected_counts(body, chunks)


@SETTINGS
@given(st.data())
def test_array_truncated_anywhere(data: st.DataObject) -> None:
    expected, body = data.draw(array_bodies())
    end = body.rindex(b"]")
    cut = data.draw(st.integers(0, end))
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    items: list[Any] = []
    for chunk in data.draw(cuts(body[:cut])):
        items += reader.feed(chunk)
    with pytest.raises(TruncatedError) as info:
        reader.finish()
    assert info.value.offset == cut
    assert items == expected[: len(items)]
    assert len(items) == sum(1 for p in completion_points(body) if p <= cut)


@SETTINGS
@given(st.data())
def test_array_corrupted_never_misparsed(data: st.DataObject) -> None:
    expected, body = data.draw(array_bodies())
    at = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.sampled_from([*b'[]{},:"\\ x0-e\x00\xff', 0xC3]))
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    tail = body[at + 1 :] if how != "insert" else body[at:]
    bad = body[:at] + (b"" if how == "delete" else bytes([byte])) + tail
    try:
        oracle: Any = orjson.loads(bad)
    except orjson.JSONDecodeError:
        oracle = None
    items, err = feed_until_error(ItemReader(ItemFormat.JSON_ARRAY), data.draw(cuts(bad)))
    if err is None:
        assert items == oracle
    else:
        assert isinstance(err, MalformedError | TruncatedError)
        assert oracle is None or not isinstance(oracle, list)
        assert 0 <= err.offset <= len(bad)
    # elements that ended before the damaged byte are the true ones
    intact = sum(1 for p in completion_points(body) if p <= at)
    assert items[:intact] == expected[: min(intact, len(items))]


SMALL_INT = st.integers(-1000, 1000)
RECORD_TEXT = st.text(st.sampled_from(list('ab,]}[{":\\ ')), max_size=6)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Objects that all start alike (``{"id":``), with many commas and nested look-alikes."""
    rec: dict[str, Any] = {"id": draw(st.integers(0, 10**6))}
    for k in range(draw(st.integers(0, 30))):
        rec[f"f{k}"] = draw(st.one_of(RECORD_TEXT, SMALL_INT, st.lists(SMALL_INT, max_size=4)))
    if draw(st.booleans()):
        rec["children"] = [
            {"id": i, "s": draw(RECORD_TEXT)} for i in range(draw(st.integers(0, 8)))
        ]
    return rec


@settings(SETTINGS, max_examples=60)
@given(st.data())
def test_array_of_big_records_in_medium_chunks(data: st.DataObject) -> None:
    # elements larger than chunks, with more commas than the speculation walk tries: exercises
    # the signature search, the lazy tail and the exact path taking over mid-element
    items = data.draw(st.lists(records(), min_size=1, max_size=8))
    option = data.draw(st.sampled_from([0, orjson.OPT_INDENT_2]))
    body = orjson.dumps(items, option=option)
    sizes = data.draw(st.lists(st.integers(1, 700), min_size=1, max_size=40))
    chunks: list[bytes] = []
    at = 0
    while at < len(body):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(body[at : at + size])
        at += size
    decode = data.draw(st.booleans())
    got, counts = feed_all(ItemReader(decode=decode), chunks)
    assert (got if decode else [orjson.loads(g) for g in got]) == items
    assert counts == expected_counts(body, chunks)


def test_big_elements_use_the_signature_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # the walk gives up inside a big unfinished element; the element-start signature
    # (learnt from the first element) finds the boundary before it
    from harness.reader import _speculate

    found: list[int] = []
    original = _speculate._by_signature

    def spy(buf: bytearray, p: int, n: int, sig: bytes) -> int:
        j = original(buf, p, n, sig)
        found.append(j)
        return j

    monkeypatch.setattr(_speculate, "_by_signature", spy)
    items = [{"id": i, "rows": [{"id": k, "v": [k, "a,b"]} for k in range(40)]} for i in range(30)]
    body = orjson.dumps(items)
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    got, counts = feed_all(ItemReader(), chunks)
    assert got == items
    assert counts == expected_counts(body, chunks)
    assert sum(j >= 0 for j in found) >= len(chunks) // 2


@pytest.mark.parametrize(
    ("text", "verdict", "position"),
    [
        (b'{"a": 1}', "COMPLETE", 8),
        (b'{"a": 1} \n', "COMPLETE", 10),
        (b'{"a": 1},{"b":', "FOLLOWED", 8),
        (b'{"a": 1} \r\n ,', "FOLLOWED", 12),
        (b'"\xc3\xa9\xe2\x82\xac" ]', "FOLLOWED", 8),  # bytes, not characters
        (b'["},{", "\\"]"],', "FOLLOWED", 14),
        (b'{"a": [1, 2', "UNFINISHED", 11),
        (b'"abc\\', "UNFINISHED", 5),
        (b'{"a": x}', "REFUSED", 0),
        (b'{"a": NaN},', "REFUSED", 0),
        (b'{"a": "\xff"},', "REFUSED", 0),  # invalid UTF-8
        (b"[" * 1100 + b"]" * 1100 + b",", "REFUSED", 0),  # deeper than orjson allows
    ],
)
def test_parse_value_verdicts(text: bytes, verdict: str, position: int) -> None:
    from harness.reader import _speculate

    got, k, value = _speculate.parse_value(memoryview(text), 0, len(text))
    assert got == getattr(_speculate, verdict)
    assert k == position
    if verdict == "COMPLETE":
        assert value == orjson.loads(text)


def test_char_end_never_cuts_a_character() -> None:
    from harness.reader._speculate import char_end

    text = bytearray('"a€😀'.encode())
    assert [char_end(text, 0, n) for n in range(len(text) + 1)] == [0, 1, 2, 2, 2, 5, 5, 5, 5, 9]
    assert char_end(text, 6, 8) == 8  # no lead byte in the window: left to orjson


def test_big_elements_in_big_chunks_skip_the_scanner_regexes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # elements bigger than a chunk: orjson finds where each ends, or the skim follows it with
    # whole-bytes operations; the regexes scan only the few bytes around an element's end
    from harness.reader import _exact

    scanned: list[int] = []
    original = _exact.content_upto

    def spy(buf: bytearray, pos: int, endpos: int) -> Any:
        m = original(buf, pos, endpos)
        scanned.append(m.end() - pos)
        return m

    monkeypatch.setattr(_exact, "content_upto", spy)
    items = [{"id": i, "rows": [{"k": k, "s": "},{[]"} for k in range(300)]} for i in range(12)]
    body = orjson.dumps(items)
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    for decode in (True, False):
        got, counts = feed_all(ItemReader(decode=decode), chunks)
        assert (got if decode else [orjson.loads(g) for g in got]) == items
        assert counts == expected_counts(body, chunks)
    assert sum(scanned) < 0.05 * 2 * len(body)


def test_paced_one_element_chunks_skip_the_state_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # ',{...}' right after an element: one orjson call; only '[' + first and ']' are framed
    from harness.reader._array import ArrayFramer

    runs: list[int] = []
    original = ArrayFramer._run

    def spy(self: ArrayFramer, buf: bytearray, out: list[Any], fresh: int) -> None:
        runs.append(fresh)
        original(self, buf, out, fresh)

    monkeypatch.setattr(ArrayFramer, "_run", spy)
    items = [{"id": i, "s": "},{" * (i % 3)} for i in range(50)]
    chunks = [b"[" + orjson.dumps(items[0])]
    chunks += [b"," + orjson.dumps(item) for item in items[1:]] + [b"]"]
    for decode in (True, False):
        runs.clear()
        reader = ItemReader(ItemFormat.JSON_ARRAY, decode=decode)
        got = [reader.feed(chunk) for chunk in chunks]
        assert [len(feed) for feed in got] == [1] * 50 + [0]
        flat = [item for feed in got for item in feed]
        assert (flat if decode else [orjson.loads(g) for g in flat]) == items
        assert reader.complete
        assert reader.bytes_fed == sum(map(len, chunks))
        assert runs == [len(chunks[0]), 1]  # the first chunk and the closing ']'
    # an element that is not valid JSON goes the usual way and is reported at its offset
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    reader.feed(chunks[0])
    with pytest.raises(MalformedError) as caught:
        reader.feed(b',{"id": x}')
    assert caught.value.offset == len(chunks[0]) + len(b',{"id": ')


def test_small_raw_elements_are_split_at_the_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    # decode=False: runs of look-alike objects are cut at ',{"id":' and each piece checked
    from harness.reader import _array
    from harness.reader._speculate import split_run as original

    verdicts: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        res = original(*args, **kwargs)
        verdicts.append(res is not None)
        return res

    monkeypatch.setattr(_array, "split_run", spy)
    items: list[Any] = [{"id": i, "s": "a,b", "t": [i, {"k": "},{"}]} for i in range(400)]
    items[200] = {"id": 0, "kids": [{"id": 1}, {"id": 2}]}  # a nested look-alike: refused
    body = orjson.dumps(items)
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    got, counts = feed_all(ItemReader(decode=False), chunks)
    assert [orjson.loads(g) for g in got] == items
    assert all(isinstance(g, bytes) for g in got)
    assert counts == expected_counts(body, chunks)
    assert verdicts.count(True) >= len(chunks) - 3
    assert False in verdicts


def test_array_error_items_are_the_ones_completed_before_it() -> None:
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    with pytest.raises(MalformedError) as info:
        reader.feed(b'[{"a": 1}, [2], "x" "y"]')
    assert info.value.items == [{"a": 1}, [2], "x"]
    assert info.value.offset == 20


# -- NDJSON and SSE properties ---------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_ndjson_split_anywhere(data: st.DataObject) -> None:
    values = data.draw(st.lists(VALUES, max_size=10))
    lines = [orjson.dumps(v) for v in values]
    parts: list[bytes] = []
    for line in lines:
        parts += data.draw(st.lists(st.sampled_from([b"", b"  ", b"\r"]), max_size=2))
        parts.append(data.draw(WS.filter(lambda w: b"\n" not in w)) + line)
    eol = data.draw(st.sampled_from([b"\n", b"\r\n"]))
    body = eol.join(parts) + data.draw(st.sampled_from([b"", eol]))
    chunks = data.draw(cuts(body))
    decode = data.draw(st.booleans())
    fmt = ItemFormat.NDJSON if body.lstrip()[:1] in (b"[", b"d", b"e", b"i", b"r", b":") else None
    reader = ItemReader(fmt, decode=decode)
    items, _ = feed_all(reader, chunks)
    if not decode:
        items = [orjson.loads(i) for i in items]
    assert items == values
    assert reader.format in (ItemFormat.NDJSON, None)


@st.composite
def sse_bodies(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    values = draw(st.lists(VALUES, max_size=8))
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    events: list[bytes] = []
    for v in values:
        lines = [b": keep-alive"] if draw(st.booleans()) else []
        if draw(st.booleans()):
            lines.append(b"event: item")
        pretty = orjson.dumps(v, option=orjson.OPT_INDENT_2).split(b"\n")
        space = draw(st.sampled_from([b"", b" "]))
        lines += [b"data:" + space + line for line in pretty]
        if draw(st.booleans()):
            lines.append(b"id: 7")
        events.append(eol.join(lines) + eol)
        if draw(st.booleans()):
            events.append(b"retry: 10" + eol + eol + b": ping" + eol)
    events.append(b"data: [DONE]" + eol)
    return values, eol.join(events) + eol


@SETTINGS
@given(st.data())
def test_sse_split_anywhere(data: st.DataObject) -> None:
    values, body = data.draw(sse_bodies())
    decode = data.draw(st.booleans())
    reader = ItemReader(data.draw(st.sampled_from([None, ItemFormat.SSE])), decode=decode)
    items, _ = feed_all(reader, data.draw(cuts(body)))
    if not decode:
        items = [orjson.loads(i) for i in items]
    assert items == values
    assert reader.format is ItemFormat.SSE


# -- examples: JSON array rules --------------------------------------------------------------


def test_empty_array_and_whitespace() -> None:
    reader = ItemReader()
    assert reader.feed(b"  \n [ \r\n\t ]  \n") == []
    assert reader.complete
    assert reader.finish() == []


def test_utf8_split_inside_character() -> None:
    body = '["é€😀", {"k": "😀"}]'.encode()
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    items = []
    for i in range(len(body)):
        items += reader.feed(body[i : i + 1])
    assert items == ["é€😀", {"k": "😀"}]


def test_scalar_completes_at_delimiter_container_at_last_byte() -> None:
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    assert reader.feed(b"[12") == []
    assert reader.feed(b"3") == []
    assert reader.feed(b" ") == [123]
    assert reader.feed(b', {"a": [1]}') == [{"a": [1]}]
    assert reader.feed(b', "s"') == ["s"]
    assert reader.feed(b", true") == []
    assert reader.feed(b"]") == [True]
    assert reader.complete


def test_deep_nesting_beyond_regex_depth() -> None:
    deep: Any = "x"
    for i in range(40):
        deep = [deep, {"k": i}] if i % 2 else {"k": deep}
    body = orjson.dumps([deep, deep])
    for size in (1, 7, 64, len(body)):
        reader = ItemReader()
        items = []
        for i in range(0, len(body), size):
            items += reader.feed(body[i : i + size])
        assert items + reader.finish() == [deep, deep]


@pytest.mark.parametrize(
    ("body", "offset"),
    [
        (b"[1,]", 3),
        (b"[,1]", 1),
        (b"[1 2]", 3),
        (b"[1]x", 3),
        (b"[1] ]", 4),
        (b'{"a": 1}', 0),
        (b'[{"a" 1}]', 6),
        (b'["\xc3\xa9", tru]', 10),
        (b"[1,\x0c2]", 3),
        (b"[NaN]", 1),
    ],
)
def test_malformed_offsets(body: bytes, offset: int) -> None:
    _, err = feed_until_error(ItemReader(ItemFormat.JSON_ARRAY), [body])
    assert isinstance(err, MalformedError)
    assert err.offset == offset
    assert f"byte {offset}" in str(err)
    assert isinstance(err, FlowloadError)


@pytest.mark.parametrize("body", [b"", b"  \n", b"[", b"[1", b'[{"a": 1}', b'["ab', b"[1,", b"[1 "])
def test_truncated_array(body: bytes) -> None:
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    reader.feed(body)
    with pytest.raises(TruncatedError) as info:
        reader.finish()
    assert info.value.offset == len(body)


def test_dead_after_error_raises_same_kind() -> None:
    reader = ItemReader()
    with pytest.raises(MalformedError):
        reader.feed(b"[1,,")
    with pytest.raises(MalformedError) as again:
        reader.feed(b"2]")
    assert again.value.offset == 3
    with pytest.raises(MalformedError):
        reader.finish()


def test_feed_after_finish_is_a_usage_error() -> None:
    reader = ItemReader()
    reader.feed(b"[]")
    reader.finish()
    with pytest.raises(RuntimeError, match="new ItemReader"):
        reader.feed(b"[]")


def test_offsets_count_from_body_start_across_chunks() -> None:
    reader = ItemReader()
    reader.feed(b"   ")
    reader.feed(b'[ {"a": 1},')
    with pytest.raises(MalformedError) as info:
        reader.feed(b" {}} ")
    assert info.value.offset == 17


# -- max_item_bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize("size", [1, 5, 1000])
def test_array_item_limit(decode: bool, size: int) -> None:
    ok = b'[ "12345678", [1,2,3,4] ,'
    body = ok + b' {"a": "123456789"}, 1]'
    reader = ItemReader(decode=decode, max_item_bytes=10)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    items, err = feed_until_error(reader, chunks, finish=False)
    assert isinstance(err, ItemTooLargeError)
    assert err.offset == len(ok) + 1
    assert len(items) == 2


def test_array_item_limit_bounds_memory_of_unfinished_item() -> None:
    reader = ItemReader(max_item_bytes=100)
    reader.feed(b'[{"a": "')
    _, err = feed_until_error(reader, [b"x" * 10] * 20, finish=False)
    assert isinstance(err, ItemTooLargeError)
    assert err.offset == 1
    assert reader.bytes_fed <= 120


def test_item_exactly_at_limit_is_fine() -> None:
    reader = ItemReader(max_item_bytes=10)
    assert reader.feed(b'["12345678"]') == ["12345678"]


def test_ndjson_and_sse_item_limits() -> None:
    nd = ItemReader(ItemFormat.NDJSON, max_item_bytes=8)
    assert nd.feed(b"[1,2,3]\n") == [[1, 2, 3]]
    with pytest.raises(ItemTooLargeError) as info:
        nd.feed(b'"123456789')
    assert info.value.offset == 8
    sse = ItemReader(ItemFormat.SSE, max_item_bytes=8)
    assert sse.feed(b"data: [1]\n\n") == [[1]]
    with pytest.raises(ItemTooLargeError):
        sse.feed(b"data: [1,\ndata: 2,3,\ndata: 4]\n\n")


def test_max_item_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_item_bytes"):
        ItemReader(max_item_bytes=0)


# -- examples: NDJSON -------------------------------------------------------------------------


def test_ndjson_rules() -> None:
    reader = ItemReader(ItemFormat.NDJSON)
    assert reader.feed(b'{"a": 1}\r\n\n  \n[1') == [{"a": 1}]
    assert reader.feed(b", 2]\n3") == [[1, 2]]
    assert not reader.complete
    assert reader.finish() == [3]
    assert reader.complete


def test_ndjson_malformed_line_offset_and_items() -> None:
    reader = ItemReader(ItemFormat.NDJSON)
    with pytest.raises(MalformedError) as info:
        reader.feed(b'1\n2\n{"a" 1}\n4\n')
    assert info.value.items == [1, 2]
    assert info.value.offset == 9  # the '1' where ':' was expected


def test_ndjson_two_values_on_a_line_is_malformed() -> None:
    with pytest.raises(MalformedError):
        ItemReader(ItemFormat.NDJSON).feed(b"1 2\n")


def test_empty_ndjson_and_sse_bodies_are_fine() -> None:
    for fmt in (ItemFormat.NDJSON, ItemFormat.SSE, None):
        reader = ItemReader(fmt)
        assert reader.feed(b"") == []
        assert reader.finish() == []


# -- examples: SSE ----------------------------------------------------------------------------


def test_sse_rules() -> None:
    reader = ItemReader(sse_sentinels=frozenset({"[DONE]", "bye"}))
    body = (
        b": hello\n\nevent: x\nid: 1\nretry: 5\n\n"  # no data: nothing
        b'data: {"a":\ndata:  1}\n\n'  # multi-line data joined with \n
        b"data:[2]\r\n\r\n"
        b"data\n\n"  # empty data is not JSON
    )
    with pytest.raises(MalformedError) as info:
        reader.feed(body)
    assert info.value.items == [{"a": 1}, [2]]
    assert reader.format is ItemFormat.SSE
    raw = ItemReader(ItemFormat.SSE, decode=False, sse_sentinels=frozenset({"bye"}))
    assert raw.feed(b"data: not json\n\ndata: bye\n\ndata: a\ndata: b\n\n") == [
        b"not json",
        b"a\nb",
    ]


def test_sse_unterminated_event_is_truncated() -> None:
    reader = ItemReader(ItemFormat.SSE)
    assert reader.feed(b"data: 1\n\ndata: 2\n") == [1]
    with pytest.raises(TruncatedError):
        reader.finish()
    ok = ItemReader(ItemFormat.SSE)
    ok.feed(b"data: 1\n\n: bye")
    assert ok.finish() == []


# -- sniffing and content types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b" \n[1]", ItemFormat.JSON_ARRAY),
        (b"data: 1\n\n", ItemFormat.SSE),
        (b": c\n\n", ItemFormat.SSE),
        (b"event: x\n\n", ItemFormat.SSE),
        (b"id: 1\n\n", ItemFormat.SSE),
        (b"retry: 1\n\n", ItemFormat.SSE),
        (b'{"a": 1}\n', ItemFormat.NDJSON),
        (b"1\n", ItemFormat.NDJSON),
        (b'"s"\n', ItemFormat.NDJSON),
    ],
)
def test_format_sniffing(body: bytes, fmt: ItemFormat) -> None:
    reader = ItemReader()
    reader.feed(body[:1])
    assert reader.format is (None if body[:1].isspace() else fmt)
    reader.feed(body[1:])
    assert reader.format is fmt


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("application/json", ItemFormat.JSON_ARRAY),
        ("Application/JSON; charset=utf-8", ItemFormat.JSON_ARRAY),
        ("application/x-ndjson", ItemFormat.NDJSON),
        ("application/ndjson", ItemFormat.NDJSON),
        ("application/jsonl", ItemFormat.NDJSON),
        ("text/event-stream; charset=utf-8", ItemFormat.SSE),
        ("application/json-seq", None),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_format_from_content_type(content_type: str | None, fmt: ItemFormat | None) -> None:
    assert format_from_content_type(content_type) is fmt


def test_errors_are_typed() -> None:
    for cls in (MalformedError, ItemTooLargeError, TruncatedError):
        err = cls("x", 3)
        assert isinstance(err, ReaderError)
        assert isinstance(err, FlowloadError)
        assert err.offset == 3
        assert err.items == []


# -- linear time ---------------------------------------------------------------------------


def _time_one_big_item(n_rows: int, chunk: int) -> float:
    item = {"rows": [{"id": i, "name": f"r{i}", "tags": ["a", "b"]} for i in range(n_rows)]}
    body = b"[" + orjson.dumps(item) + b"]"
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    t0 = time.perf_counter()
    got = []
    for i in range(0, len(body), chunk):
        got += reader.feed(body[i : i + chunk])
    elapsed = time.perf_counter() - t0
    assert got == [item]
    return elapsed


def test_big_item_in_small_chunks_is_linear() -> None:
    # quadratic rescanning would make 4x the bytes cost ~16x; linear ~4x (generous for noise)
    small = min(_time_one_big_item(2_000, 64) for _ in range(3))
    big = min(_time_one_big_item(8_000, 64) for _ in range(3))
    assert big / small < 9


def test_one_element_per_write_is_decoded_at_its_last_byte() -> None:
    # The usual server write: '[' or ',' then one whole element. Each feed completes one item.
    reader = ItemReader()
    writes = [b'[{"seq": 0}', b',"text \\" with quote"', b', {"seq": 2, "v": [1, "}"]} ', b"]"]
    counts = [len(reader.feed(w)) for w in writes]
    assert counts == [1, 1, 1, 0]
    assert reader.complete


def test_a_number_at_the_end_of_a_write_waits_for_the_next_byte() -> None:
    # '12' may continue as '123': only the next byte completes it (the fast path must not).
    reader = ItemReader()
    assert reader.feed(b"[12") == []
    assert reader.feed(b"3,") == [123]
    assert reader.feed(b'{"a": 1}') == [{"a": 1}]
    assert reader.feed(b"]") == []
