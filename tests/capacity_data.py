"""Synthetic step results for the capacity tests: stats blocks, queueing models, a data set.

The models are the textbook ones the analysis must read correctly:

- :func:`closed_loop`: N users against a server with K slots and a fixed service time D. Below K
  every stream is served at once (X = N/D, R = D); above, streams queue (X = K/D, R = N*D/K).
- :func:`arrival_rate`: streams start at a fixed rate against the same server; above its
  capacity K/D, throughput stays at K/D and latency (measured from the intended start) grows.

Noise is multiplicative and seeded (numpy Generator), so every failing case replays exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.capacity import StepResult

# SPEC SDM91 benchmark of a Sun SPARCcenter 2000 (load = virtual users, throughput = scripts
# per hour), as printed in N. J. Gunther, "Guerrilla Capacity Planning" (Springer, 2007) and
# shipped as the data set ``specsdm91`` of the R package ``usl``. Published USL fit:
# sigma = 0.02767, kappa = 0.00010393, lambda = 89.99; peak at N* ~ 97 (the R package's tests).
SPECSDM91_LOAD = (1.0, 18.0, 36.0, 72.0, 108.0, 144.0, 216.0)
SPECSDM91_THROUGHPUT = (64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2)


def metric(mean: float, p95: float | None = None, *, count: int = 100) -> dict[str, Any]:
    """A metric summary (count, min, mean, percentiles, max) around ``mean``."""
    top = mean if p95 is None else p95
    return {
        "count": count,
        "min": mean * 0.5,
        "mean": mean,
        "p50": mean,
        "p90": top * 0.98,
        "p95": top,
        "p99": top * 1.05,
        "p99.9": top * 1.1,
        "max": top * 1.2,
        "out_of_range": 0,
    }


def block(
    *,
    streams_per_s: float,
    duration_ms: float,
    ttfi_p95_ms: float,
    elapsed_s: float = 60.0,
    error_rate: float = 0.0,
    limit_s: float = 300.0,
) -> dict[str, Any]:
    """A stats block as harness.stats makes it, from a few figures."""
    streams = round(streams_per_s * elapsed_s)
    errors = round(streams * error_rate)
    outcomes = dict.fromkeys(
        (
            "ok",
            "http_error",
            "connect_error",
            "timeout",
            "truncated",
            "malformed",
            "stalled",
            "limit_exceeded",
        ),
        0,
    )
    outcomes["ok"] = streams - errors
    outcomes["http_error"] = errors
    return {
        "streams": streams,
        "outcomes": outcomes,
        "error_rate": errors / streams if streams else 0.0,
        "items": streams * 10,
        "bytes": streams * 1000,
        "streams_per_s": streams_per_s,
        "items_per_s": streams_per_s * 10,
        "ttfb_ms": metric(ttfi_p95_ms * 0.5),
        "ttfi_ms": metric(ttfi_p95_ms * 0.8, ttfi_p95_ms),
        "itl_ms": metric(5.0),
        "duration_ms": metric(duration_ms, duration_ms * 1.3),
        "limit_used": metric(duration_ms / 1000.0 / limit_s, duration_ms * 1.3 / 1000.0 / limit_s),
    }


def closed_loop(
    loads: Sequence[float],
    *,
    slots: float,
    service_s: float = 2.0,
    ttfi_s: float = 0.2,
    noise: float = 0.0,
    seed: int = 7,
) -> list[StepResult]:
    """Stepped users against a K-slot server (see the module docstring)."""
    rng = np.random.default_rng(seed)
    steps = []
    for i, n in enumerate(loads):
        x = min(n, slots) / service_s
        r = service_s * max(1.0, n / slots)
        wait = r - service_s
        jitter = 1.0 + rng.uniform(-noise, noise, size=3) if noise else np.ones(3)
        stats = block(
            streams_per_s=x * float(jitter[0]),
            duration_ms=r * 1000.0 * float(jitter[1]),
            ttfi_p95_ms=(wait + ttfi_s) * 1000.0 * float(jitter[2]),
        )
        steps.append(make_step(i, n, "users", stats))
    return steps


def arrival_rate(
    rates: Sequence[float], *, slots: float, service_s: float = 2.0, ttfi_s: float = 0.2
) -> list[StepResult]:
    """Open-loop arrivals against a K-slot server; overload grows the corrected latency."""
    capacity = slots / service_s
    steps = []
    for i, rate in enumerate(rates):
        x = min(rate, capacity)
        # Over capacity the queue grows through the step: the mean wait grows with the excess.
        wait = max(0.0, rate / capacity - 1.0) * 30.0
        stats = block(
            streams_per_s=x,
            duration_ms=(service_s + wait) * 1000.0,
            ttfi_p95_ms=(ttfi_s + wait) * 1000.0,
        )
        steps.append(make_step(i, rate, "rate", stats))
    return steps


def linear(loads: Sequence[float], *, per_user: float = 0.5) -> list[StepResult]:
    """Perfect scaling: throughput proportional to load, latency flat."""
    return [
        make_step(
            i, n, "users", block(streams_per_s=n * per_user, duration_ms=2000, ttfi_p95_ms=200)
        )
        for i, n in enumerate(loads)
    ]


def make_step(index: int, load: float, kind: str, stats: dict[str, Any]) -> StepResult:
    return StepResult(
        step=index,
        load=load,
        load_kind="users" if kind == "users" else "rate",
        started=f"2026-01-01T00:{index:02d}:00Z",
        ended=f"2026-01-01T00:{index:02d}:59Z",
        stats=stats,
    )
