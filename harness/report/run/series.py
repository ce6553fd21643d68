"""Time series from per-stream records: what the over-time plots draw.

Each stream is an interval ``[t, t + duration)``; the run is cut into equal buckets (at most
``MAX_BUCKETS``, on a "nice" width) so plots stay small whatever the run length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.results import StreamRecord

MAX_BUCKETS = 60
_NICE_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
MIN_TTFI_SAMPLES = 5  # a bucket's TTFI p95 is drawn from this many streams or more
TTFI_PER_BUCKET = 20  # aim: streams per env per TTFI bucket, so a p95 is more than the max
MIN_TTFI_POINTS = 6  # a curve over time needs points: fewer streams per bucket before fewer points


@dataclass
class TimeSeries:
    """Per-bucket values; bucket ``i`` covers ``[origin + i*width, origin + (i+1)*width)``.

    ``ttfi_p95`` uses its own, coarser buckets of ``ttfi_width`` seconds (see ``ttfi_buckets``).
    """

    origin: float
    width: float
    started: list[int]
    completed: list[int]
    active: list[float]
    outcomes: dict[str, list[int]] = field(default_factory=dict)
    ttfi_p95: dict[str, list[float | None]] = field(default_factory=dict)
    ttfi_width: float = 1.0

    @property
    def size(self) -> int:
        """Number of buckets."""
        return len(self.started)

    def midpoints(self) -> list[float]:
        """Seconds since the origin at each bucket's middle."""
        return [(i + 0.5) * self.width for i in range(self.size)]


def bucket_width(span_s: float, max_buckets: int = MAX_BUCKETS) -> float:
    """The smallest nice width (seconds) that covers ``span_s`` in ``max_buckets`` buckets."""
    for width in _NICE_WIDTHS:
        if span_s <= width * max_buckets:
            return float(width)
    return float(math.ceil(span_s / max_buckets))


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..1)."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def _index(moment: float, origin: float, width: float, size: int) -> int:
    return min(size - 1, max(0, int((moment - origin) // width)))


def _add_overlap(active: list[float], start: float, end: float, width: float) -> None:
    """Add the share of ``[start, end)`` (seconds from origin) falling in each bucket."""
    first = int(start // width)
    last = min(len(active) - 1, int(end // width))
    for i in range(max(0, first), last + 1):
        overlap = min(end, (i + 1) * width) - max(start, i * width)
        if overlap > 0:
            active[i] += overlap / width


def build_series(records: Sequence[StreamRecord]) -> TimeSeries | None:
    """Bucketed counts, mean concurrency, outcomes and TTFI p95 per env; None without records."""
    if not records:
        return None
    origin = min(r.t for r in records)
    span = max(r.end for r in records) - origin
    width = bucket_width(span)
    size = max(1, math.ceil(span / width)) if span > 0 else 1
    series = TimeSeries(origin, width, [0] * size, [0] * size, [0.0] * size)
    for record in records:
        start = record.t - origin
        series.started[_index(record.t, origin, width, size)] += 1
        end_index = _index(record.end, origin, width, size)
        series.completed[end_index] += 1
        series.outcomes.setdefault(record.outcome, [0] * size)[end_index] += 1
        _add_overlap(series.active, start, start + record.duration_ms / 1000.0, width)
    series.ttfi_width, series.ttfi_p95 = ttfi_buckets(records, origin, span)
    return series


def ttfi_buckets(
    records: Sequence[StreamRecord], origin: float, span: float
) -> tuple[float, dict[str, list[float | None]]]:
    """TTFI p95 per env per bucket (by start time), on buckets wide enough to hold a p95.

    The width comes from the run's length and the smallest env's stream count: it aims at
    ``TTFI_PER_BUCKET`` streams per bucket, but gives at least ``MIN_TTFI_POINTS`` buckets when
    each can still hold ``MIN_TTFI_SAMPLES`` streams (a short run is a curve, not one dot), and
    never more than the run length needs. A bucket with fewer than ``MIN_TTFI_SAMPLES`` streams
    (or than all of a tiny env's streams) has no value (None) rather than a noisy one.
    """
    per_env: dict[str, list[StreamRecord]] = {}
    for record in records:
        if record.ttfi_ms is not None:
            per_env.setdefault(record.env, []).append(record)
    if not per_env:
        return 1.0, {}
    smallest = min(len(v) for v in per_env.values())
    wanted = max(smallest // TTFI_PER_BUCKET, min(MIN_TTFI_POINTS, smallest // MIN_TTFI_SAMPLES))
    width = bucket_width(span, max(1, min(MAX_BUCKETS, wanted)))
    size = max(1, math.ceil(span / width)) if span > 0 else 1
    out: dict[str, list[float | None]] = {}
    for env, env_records in per_env.items():
        buckets: list[list[float]] = [[] for _ in range(size)]
        for record in env_records:
            buckets[_index(record.t, origin, width, size)].append(float(record.ttfi_ms or 0.0))
        enough = min(MIN_TTFI_SAMPLES, len(env_records))
        out[env] = [nearest_rank(sorted(b), 0.95) if len(b) >= enough else None for b in buckets]
    return width, out
