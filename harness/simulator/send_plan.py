"""What one simulated stream will send, and when: planned before the first byte goes out.

A plan is a pure function of the profile, the env, the seed, the stream's sequence number and
the request's overrides, so the same seed and request sequence give the same items and timings.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.simulator.faults import Fault, FaultKind
from harness.simulator.profiles import EnvSettings, FlowProfile

CONTENT_TYPES: dict[str, str] = {
    "json": "application/json; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "sse": "text/event-stream",
}
MAX_ITEMS = 100_000_000
_PAD = b"x" * 65536


@dataclass(frozen=True, slots=True)
class Overrides:
    """Per-request overrides of the profile's draws (headers ``x-flowload-*``), for tests.

    They are exact: the env's speed multiplier does not apply to them.
    """

    items: int | None = None
    gap_ms: float | None = None
    ttfi_ms: float | None = None
    item_bytes: int | None = None
    dense: bool = False  # items made of many small rows (slow to parse), not one long string


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One stream's schedule, drawn lazily (a 300 s stream may hold many thousands of items).

    ``schedule()`` yields ``(offset_s, size)`` per item: when it is due, in seconds after the
    stream started executing (after any queueing), and its approximate size in bytes. It
    replays the same values on every call.
    """

    job_id: str
    flow: FlowProfile
    env: EnvSettings
    count: int
    ttfi_s: float
    fault: Fault | None
    overrides: Overrides
    state: tuple[Any, ...] = field(repr=False)

    @property
    def content_type(self) -> str:
        """The response's Content-Type for this flow's format."""
        return CONTENT_TYPES[self.flow.format]

    def schedule(self) -> Iterator[tuple[float, int]]:
        """Each item's due offset (s) and size (bytes), in order."""
        rng = random.Random()  # noqa: S311 - replays the stream's seeded state
        rng.setstate(self.state)
        over, flow, speed = self.overrides, self.flow, self.env.speed
        t = self.ttfi_s
        for i in range(self.count):
            if i:
                if over.gap_ms is not None:
                    t += over.gap_ms / 1000.0
                else:
                    t += flow.gap_ms.sample(rng) * speed / 1000.0
            size = over.item_bytes
            yield t, (size if size is not None else round(flow.item_bytes.sample(rng)))


def stream_rngs(seed: int, env: str, flow_id: str, seq: int) -> tuple[random.Random, random.Random]:
    """The stream's item RNG and fault RNG (separate, so faults never shift items or timings)."""
    base = f"{seed}/{env}/{flow_id}/{seq}"
    # Simulation, not cryptography: a reproducible PRNG is the point.
    return random.Random(base), random.Random("fault/" + base)  # noqa: S311


def _items_needed(fault: Fault | None) -> int:
    """Enough items for the fault to happen where it says (``malformed:at=3`` needs 4)."""
    if fault is None:
        return 0
    if fault.kind in (FaultKind.MALFORMED, FaultKind.OVERSIZED):
        return fault.index + 1
    if fault.kind in (FaultKind.RESET, FaultKind.TRUNCATE, FaultKind.STALL):
        return fault.index
    return 0


def make_plan(
    flow: FlowProfile,
    env: EnvSettings,
    rng: random.Random,
    overrides: Overrides,
    fault: Fault | None,
) -> StreamPlan:
    """Draw the stream's job id, item count, times and sizes from ``rng``."""
    job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    count = overrides.items if overrides.items is not None else round(flow.items.sample(rng))
    count = min(max(count, _items_needed(fault)), MAX_ITEMS)
    if overrides.ttfi_ms is not None:
        ttfi = overrides.ttfi_ms / 1000.0
    else:
        ttfi = flow.ttfi_ms.sample(rng) * env.speed / 1000.0
    return StreamPlan(job_id, flow, env, count, ttfi, fault, overrides, rng.getstate())


def item_body(
    flow_json: bytes, seq: int, size: int, *, malformed: bool = False, dense: bool = False
) -> bytes:
    """One item ``{"seq":N,"flow":"name","data":"xx..."}`` padded to about ``size`` bytes.

    ``dense`` items hold rows instead, ``{"seq":N,"flow":"name","rows":[{"i":0,"v":"abcd"},
    ...]}`` (about 12,000 rows per MiB): as costly to parse as real result sets. A malformed item
    keeps balanced braces (so a reader can still frame it) but holds a bare word, which no JSON
    parser accepts.
    """
    if dense and not malformed:
        return b'{"seq":%d,"flow":%s,"rows":%s}' % (seq, flow_json, _rows(size))
    head = b'{"seq":%d,"flow":%s,"data":"' % (seq, flow_json)
    tail = b'",bad}' if malformed else b'"}'
    pad = max(0, size - len(head) - len(tail))
    padding = _PAD[:pad] if pad <= len(_PAD) else b"x" * pad
    return head + padding + tail


@functools.lru_cache(maxsize=16)
def _rows(size: int) -> bytes:
    """A JSON array of small rows, about ``size`` bytes (made once per size)."""
    row = b'{"i":%d,"sku":"SKU-%d","name":"row","price":12.5,"qty":3,"ok":true,"tag":"abc"}'
    rows = []
    total = 2
    i = 0
    while total < size:
        rows.append(row % (i, i))
        total += len(rows[-1]) + 1
        i += 1
    return b"[" + b",".join(rows) + b"]"


def flow_json(name: str) -> bytes:
    """The flow name as a JSON string, computed once per stream."""
    return orjson.dumps(name)


def frame(fmt: str, index: int, body: bytes) -> bytes:
    """An item as it appears in the body: with its separator (JSON array) or framing."""
    if fmt == "json":
        return (b"[" if index == 0 else b",") + body
    if fmt == "ndjson":
        return body + b"\n"
    return b"data: " + body + b"\n\n"


def closing(fmt: str, items_sent: int) -> bytes:
    """What ends a complete body: ``]`` (or ``[]`` when empty) for a JSON array, else nothing."""
    if fmt != "json":
        return b""
    return b"]" if items_sent else b"[]"


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
