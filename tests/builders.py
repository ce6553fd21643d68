"""Shared test data: one :class:`StreamResult` builder instead of a copy per test module."""

from __future__ import annotations

from typing import Any

from harness.results import Outcome, StreamResult

STARTED_AT = 1_764_039_600.0  # 2025-11-25 03:00 UTC, epoch seconds


def stream_result(
    env: str = "Production",
    flow: str = "orders",
    outcome: Outcome = Outcome.OK,
    *,
    ttfi_s: float = 0.2,
    duration_s: float = 2.0,
    **fields: Any,
) -> StreamResult:
    """A finished stream: a good one by default (3 items, 2 gaps), a failed one without items.

    ``fields`` override any other :class:`StreamResult` field (``gaps_s``, ``items``, ...).
    """
    ok = outcome is Outcome.OK
    values: dict[str, Any] = {
        "env": env,
        "flow": flow,
        "outcome": outcome,
        "started_at": STARTED_AT,
        "duration_s": duration_s,
        "limit_s": 300.0,
        "status": 200 if ok else 503,
        "ttfb_s": ttfi_s / 2 if ok else None,
        "ttfi_s": ttfi_s if ok else None,
        "gaps_s": (0.01, 0.03) if ok else (),
        "items": 3 if ok else 0,
        "bytes": 300 if ok else 20,
    }
    return StreamResult(**(values | fields))
