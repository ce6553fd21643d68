"""Hostile bodies for harness.reader: only ReaderError comes out, never a hang or a big buffer."""

from __future__ import annotations

import contextlib
import itertools
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.reader import (
    ItemFormat,
    ItemReader,
    ItemTooLargeError,
    ReaderError,
    _array,
    _exact,
    _skim,
)
from tests.reader.test_reader import array_bodies, cuts, expected_counts, spaced

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


# --- every framing path gives the same answer --------------------------------------------------
# The JSON-array framer has three ways to find elements (run speculation, orjson boundaries, the
# exact scanner, which skims long stretches with whole-bytes operations) and thresholds that
# choose between them. Each tuning below forces one mix; all must agree with each other, byte
# for byte, feed for feed, error for error. Keys are names in _array, or "_skim.NAME" and
# "_exact.NAME".


def NO_SPECULATION(*_args: object, **_kwargs: object) -> None:  # noqa: N802
    """Stands in for the run guesses: never a guess."""


TUNINGS: dict[str, dict[str, object]] = {
    "default": {},
    # orjson boundaries wherever allowed, from a 1-byte window that must grow (and be cut back
    # to a UTF-8 character boundary), re-parsing unfinished elements in every chunk
    "orjson": {"_SMALL_RAW": 0, "_SHORT": 0, "_WINDOW_MIN": 1, "_REREAD": 10**9},
    "orjson, no speculation": {
        "_SMALL_RAW": 0,
        "_SHORT": 0,
        "_WINDOW_MIN": 1,
        "_REREAD": 10**9,
        "speculate": NO_SPECULATION,
        "split_run": NO_SPECULATION,
    },
    # the exact scanner alone, skimming everything: regions down to single bytes, so every
    # split of strings, escapes and brackets between the skim and the regexes is taken
    "skim": {
        "_REREAD": 0,
        "_PACED": False,
        "speculate": NO_SPECULATION,
        "split_run": NO_SPECULATION,
        "_skim.PIECE": 0,
    },
    "skim, pieces of 3, one collapse pass": {
        "_REREAD": 0,
        "_PACED": False,
        "speculate": NO_SPECULATION,
        "split_run": NO_SPECULATION,
        "_skim.PIECE": 3,
        "_skim._PASSES": 1,
    },
    # every way, with unfinished elements followed (and skimmed) from their first byte
    "skim, all ways": {"_FOLLOW": 0, "_SMALL_RAW": 0, "_SHORT": 0, "_skim.PIECE": 1},
    # the reference: the exact scanner alone, with its regular expressions only
    "exact": {
        "_REREAD": 0,
        "_PACED": False,
        "speculate": NO_SPECULATION,
        "split_run": NO_SPECULATION,
        "_exact.SKIM": False,
    },
}
_MODULES = {"_skim": _skim, "_exact": _exact}


def _where(key: str) -> tuple[object, str]:
    module, _, name = key.rpartition(".")
    return _MODULES.get(module, _array), name


@contextlib.contextmanager
def tuned(name: str) -> Iterator[None]:
    """Set the framer's module-level thresholds for one run (restored afterwards)."""
    values = TUNINGS[name]
    saved = {key: getattr(*_where(key)) for key in values}
    for key, value in values.items():
        setattr(*_where(key), value)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(*_where(key), value)


def _trace(chunks: list[bytes], *, decode: bool, limit: int) -> list[Any]:
    """Everything observable: the items of each feed, then the error (kind, offset, items)."""
    reader = ItemReader(ItemFormat.JSON_ARRAY, decode=decode, max_item_bytes=limit)
    trace: list[Any] = []
    try:
        trace.extend(reader.feed(chunk) for chunk in chunks)  # stops at the first error
        trace.append(reader.finish())
    except ReaderError as err:
        trace.append((type(err).__name__, err.offset, err.items))
    return trace


def _traces(chunks: list[bytes], *, decode: bool, limit: int) -> dict[str, list[Any]]:
    out = {}
    for name in TUNINGS:
        with tuned(name):
            out[name] = _trace(chunks, decode=decode, limit=limit)
    return out


# Elements that fool a byte scanner: strings holding delimiters and escapes, nested arrays of
# objects that start like top-level ones, non-ASCII text, blanks everywhere.
TRICKY_TEXT = st.sampled_from(
    ['},{"id":', "]", "[", '\\"', "\\", '"}],', "é€😀", "a,b", "", " ", "\n"]
)  # fmt: skip
TRICKY = st.recursive(
    st.one_of(st.integers(-5, 5), TRICKY_TEXT, st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.builds(
            lambda i, rest: {"id": i, **rest},
            st.integers(0, 9),
            st.dictionaries(TRICKY_TEXT, inner, max_size=3),
        ),
    ),
    max_leaves=10,
)


@st.composite
def tricky_bodies(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    items = draw(st.lists(TRICKY, min_size=1, max_size=6))
    style = draw(st.sampled_from(["compact", "spaced"]))
    body = orjson.dumps(items) if style == "compact" else draw(spaced(items))
    return items, body


@settings(max_examples=120, deadline=None, derandomize=True)
@given(data=st.data(), decode=st.booleans())
def test_all_paths_agree_on_valid_bodies(data: st.DataObject, decode: bool) -> None:
    expected, body = data.draw(st.one_of(tricky_bodies(), array_bodies()))
    chunks = data.draw(cuts(body))
    traces = _traces(chunks, decode=decode, limit=16 * 1024 * 1024)
    counts = expected_counts(body, chunks)
    for name, trace in traces.items():
        items = [item for feed in trace for item in feed]
        assert (items if decode else [orjson.loads(i) for i in items]) == expected, name
        assert [len(feed) for feed in trace[:-1]] == counts, name
        assert trace == traces["exact"], name


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    data=st.data(),
    decode=st.booleans(),
    limit=st.one_of(st.integers(1, 64), st.just(16 * 1024 * 1024)),
)
def test_all_paths_agree_on_damaged_bodies(data: st.DataObject, decode: bool, limit: int) -> None:
    _, body = data.draw(st.one_of(tricky_bodies(), array_bodies()))
    at = data.draw(st.integers(0, len(body)))
    junk = data.draw(
        st.sampled_from(
            [b"x", b"}", b"]", b",", b'"', b"\\", b'\\"', b"\xff", b"\xc3", b"\x00", b"\x01"]
        )
    )
    how = data.draw(st.sampled_from(["insert", "replace", "cut"]))
    if how == "insert":
        bad = body[:at] + junk + body[at:]
    elif how == "replace":
        bad = body[:at] + junk + body[at + 1 :]
    else:
        bad = body[:at]
    traces = _traces(data.draw(cuts(bad)), decode=decode, limit=limit)
    for name, trace in traces.items():
        assert trace == traces["exact"], name


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize("tuning", list(TUNINGS))
def test_elements_cut_at_every_position(tuning: str, decode: bool) -> None:
    items = [
        {"id": 1, "s": '},{"id": 2}', "rows": [{"id": 3, "q": '\\"]'}, {"id": 4}]},
        'plain \\" string ]',
        [{"id": 5}, [], {}],
        {"id": 6, "é": "😀"},
    ]
    body = b"[ " + b" ,\n ".join(orjson.dumps(i) for i in items) + b" ]"
    with tuned(tuning):
        for cut in range(len(body) + 1):
            chunks = [body[:cut], body[cut:]]
            trace = _trace(chunks, decode=decode, limit=1024)
            got = [item for feed in trace for item in feed]
            assert (got if decode else [orjson.loads(g) for g in got]) == items, cut
            assert [len(feed) for feed in trace[:-1]] == expected_counts(body, chunks), cut


@pytest.mark.timeout(60)
@pytest.mark.parametrize("tuning", list(TUNINGS))
def test_non_ascii_elements_at_every_limit(tuning: str) -> None:
    # regression: a window cut back to a character boundary at max_item_bytes + 1 looped forever
    bodies = ['["€€€€€€€€€"', '[{"é": "😀😀😀"}, ["€", "😀"]]', '[ "é€😀" ,{"k":"€"}]']
    with tuned(tuning):
        traces = [
            _trace([body.encode()[:cut], body.encode()[cut:]], decode=decode, limit=limit)
            for body in bodies
            for cut in (0, 5, 11)
            for limit in range(1, 40)
            for decode in (True, False)
        ]
    with tuned("exact"):
        assert traces == [
            _trace([body.encode()[:cut], body.encode()[cut:]], decode=decode, limit=limit)
            for body in bodies
            for cut in (0, 5, 11)
            for limit in range(1, 40)
            for decode in (True, False)
        ]


# Objects that all start alike ({"id":...), with nested look-alikes and look-alike strings: the
# signature guesses (speculation, raw splitting) must refuse every wrong cut.
LOOKALIKE = st.fixed_dictionaries(
    {"id": st.integers(0, 99)},
    optional={
        "s": st.sampled_from(['},{"id":1}', ',{"id":', '{"id":2},', "\\", "é€"]),
        "kids": st.lists(st.fixed_dictionaries({"id": st.integers(0, 9)}), max_size=3),
        "n": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
    },
)
PLAIN_RECORD = st.fixed_dictionaries({"id": st.integers(0, 99), "v": st.sampled_from(["a", "é"])})


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    items=st.lists(
        st.one_of(PLAIN_RECORD, PLAIN_RECORD, LOOKALIKE, st.just([1, {"id": 0}])), max_size=40
    ),
    indent=st.booleans(),
    sizes=st.lists(st.integers(1, 1500), min_size=1, max_size=8),
    decode=st.booleans(),
)
def test_all_paths_agree_on_lookalike_records(
    items: list[Any], indent: bool, sizes: list[int], decode: bool
) -> None:
    body = orjson.dumps(items, option=orjson.OPT_INDENT_2 if indent else 0)
    chunks: list[bytes] = []
    at = 0
    while at < len(body):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(body[at : at + size])
        at += size
    traces = _traces(chunks, decode=decode, limit=16 * 1024 * 1024)
    got = [item for feed in traces["default"] for item in feed]
    assert (got if decode else [orjson.loads(g) for g in got]) == items
    for name, trace in traces.items():
        assert trace == traces["exact"], name


# A paced server writes one element per chunk: '[' + first, then ',' + each next one, then ']'.
# Those chunks take a shortcut (one orjson call, no buffering) that must agree with the rest.
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    data=st.data(),
    decode=st.booleans(),
    limit=st.one_of(st.integers(1, 64), st.just(16 * 1024 * 1024)),
)
def test_paced_one_element_chunks_agree_with_the_exact_path(
    data: st.DataObject, decode: bool, limit: int
) -> None:
    items = data.draw(st.lists(TRICKY, min_size=1, max_size=8))
    elements = [orjson.dumps(item) for item in items]
    at = data.draw(st.integers(0, len(elements) - 1))
    damage = data.draw(st.sampled_from([b"", b"x", b"}", b",{}", b"\xff", b" "]))
    elements[at] = elements[at] + damage  # may stay valid: ' ' and '' are fine
    chunks = [b"[" + elements[0]] + [b"," + e for e in elements[1:]] + [b"]"]
    traces = _traces(chunks, decode=decode, limit=limit)
    for name, trace in traces.items():
        assert trace == traces["exact"], name
    if not damage.strip() and limit > 1024:
        flat = [item for feed in traces["default"][:-1] for item in feed]
        assert (flat if decode else [orjson.loads(i) for i in flat]) == items
