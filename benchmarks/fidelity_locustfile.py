"""Benchmark-only locustfile: flowload's real user, plus every stream's gaps kept for fidelity.py.

Identical to ``locustfiles/flow_stream.py`` (same install(), same FlowStreamUser code path:
plan.pick -> measure_stream -> session.record -> Locust events), except that each finished
stream's ``(started_at, ttfi_s, gaps_s, job_id, flow)`` is also kept in a list (one append per
stream) and written to ``$FIDELITY_OUT`` when Locust quits. streams.jsonl keeps only per-stream
p50/max ITL, and summary.json covers the whole run (ramp included); this lets the benchmark score
every gap of a chosen window.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import orjson
from locust import events

import harness.locust_glue as glue
from harness.results.stream import StreamResult

glue.install()

STREAMS: list[tuple[float, float | None, tuple[float, ...], str | None, str]] = []
# (generation, seconds, wall clock at the end): a collection stalls the whole event loop
GC_PAUSES: list[tuple[int, float, float]] = []
_gc_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        pause = time.perf_counter() - _gc_started[0]
        GC_PAUSES.append((int(info["generation"]), pause, time.time()))


gc.callbacks.append(_on_gc)

# Experiments only: FIDELITY_GC="off" disables the cyclic GC, "T0,T1,T2" sets the collector's
# thresholds. (The glue itself freezes the heap once spawning completes: see docs/benchmarks.md.)
_GC_MODE = os.environ.get("FIDELITY_GC", "")
if _GC_MODE == "off":
    gc.disable()
elif _GC_MODE:
    gc.set_threshold(*(int(x) for x in _GC_MODE.split(",")))


class FidelityStreamUser(glue.FlowStreamUser):
    """FlowStreamUser that also keeps each stream's timings for the benchmark."""

    def _fire_locust_events(self, name: str, result: StreamResult) -> None:
        super()._fire_locust_events(name, result)
        STREAMS.append(
            (result.started_at, result.ttfi_s, result.gaps_s, result.job_id, result.flow)
        )


def _dump(**_kw: Any) -> None:
    out = os.environ.get("FIDELITY_OUT")
    if out:
        Path(out).write_bytes(orjson.dumps(STREAMS))
        Path(out + ".gc").write_bytes(orjson.dumps(GC_PAUSES))


events.quitting.add_listener(_dump)  # type: ignore[no-untyped-call]
