"""Stream plans and body framing: seeded schedules, sizes, and bytes that parse back."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.simulator.faults import parse_fault
from harness.simulator.profiles import default_profile
from harness.simulator.send_plan import (
    Overrides,
    chunk,
    closing,
    flow_json,
    frame,
    item_body,
    make_plan,
    stream_rngs,
)


@given(st.lists(st.integers(0, 3000), max_size=20), st.text(max_size=20))
def test_json_frames_concatenate_to_one_array(sizes: list[int], name: str) -> None:
    fj = flow_json(name)
    body = b"".join(frame("json", i, item_body(fj, i, s)) for i, s in enumerate(sizes))
    body += closing("json", len(sizes))
    items = orjson.loads(body)
    assert [it["seq"] for it in items] == list(range(len(sizes)))
    assert all(it["flow"] == name for it in items)
    for it, size in zip(items, sizes, strict=True):
        encoded = len(orjson.dumps(it))
        assert encoded == size or (encoded > size and it["data"] == "")


@given(st.lists(st.integers(0, 500), min_size=1, max_size=10))
def test_ndjson_and_sse_frames(sizes: list[int]) -> None:
    fj = flow_json("f")
    nd = b"".join(frame("ndjson", i, item_body(fj, i, s)) for i, s in enumerate(sizes))
    assert [orjson.loads(x)["seq"] for x in nd.splitlines()] == list(range(len(sizes)))
    sse = b"".join(frame("sse", i, item_body(fj, i, s)) for i, s in enumerate(sizes))
    events = [e.removeprefix(b"data: ") for e in sse.split(b"\n\n") if e]
    assert [orjson.loads(e)["seq"] for e in events] == list(range(len(sizes)))
    assert closing("ndjson", 3) == b""
    assert closing("json", 0) == b"[]"


def test_malformed_item_fails_to_parse_but_is_balanced() -> None:
    bad = item_body(flow_json("f"), 1, 80, malformed=True)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad)
    assert bad.count(b"{") == bad.count(b"}") == 1


def test_chunk_encoding() -> None:
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"


def test_plans_are_reproducible_and_streams_differ() -> None:
    p = default_profile()
    flow = next(iter(p.flows.values()))
    env = p.envs["Production"]

    def plan(seed: int, seq: int) -> tuple[str, list[tuple[float, int]]]:
        rng, _ = stream_rngs(seed, "Production", flow.id, seq)
        made = make_plan(flow, env, rng, Overrides(), None)
        return made.job_id, list(made.schedule())

    assert plan(1, 0) == plan(1, 0)
    assert plan(1, 0) != plan(1, 1)
    assert plan(1, 0) != plan(2, 0)


def test_env_speed_scales_draws_but_not_overrides() -> None:
    p = default_profile()
    flow = next(iter(p.flows.values()))
    dev, prod = p.envs["Development"], p.envs["Production"]
    a = make_plan(flow, dev, random.Random(1), Overrides(), None)
    b = make_plan(flow, prod, random.Random(1), Overrides(), None)
    a_last, b_last = list(a.schedule())[-1][0], list(b.schedule())[-1][0]
    assert a_last == pytest.approx(b_last * dev.speed)
    assert list(a.schedule()) == list(a.schedule())  # replays
    exact = Overrides(items=3, gap_ms=10, ttfi_ms=100, item_bytes=64)
    c = make_plan(flow, dev, random.Random(1), exact, None)
    assert [t for t, _ in c.schedule()] == pytest.approx([0.1, 0.11, 0.12])
    assert [n for _, n in c.schedule()] == [64, 64, 64]


@pytest.mark.parametrize(
    ("spec", "minimum"), [("malformed:at=7", 8), ("reset:after=6", 6), ("oversized:at=3", 4)]
)
def test_plans_have_enough_items_for_their_fault(spec: str, minimum: int) -> None:
    p = default_profile()
    flow = next(iter(p.flows.values()))
    plan = make_plan(flow, p.envs["Test"], random.Random(1), Overrides(items=0), parse_fault(spec))
    assert plan.count == minimum
    assert len(list(plan.schedule())) == minimum
