"""The statistics of one key (an (env, flow) pair, an env, or everything) and its stats block."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.results.stream import NOTES, OUTCOMES, Outcome, StreamResult
from harness.stats.histogram import (
    DURATION,
    ITL,
    LIMIT_USED,
    METRICS,
    TTFB,
    TTFI,
    MetricHistogram,
    StatsError,
)

_OUTCOME_INDEX: dict[Outcome, int] = {o: i for i, o in enumerate(OUTCOMES)}


class StreamStats:
    """Counters and five metric histograms over a set of streams.

    Every stream counts in ``streams``, ``outcomes``, ``items``, ``bytes``, ``duration_ms`` and
    ``limit_used`` whatever its outcome; ``ttfb_ms``/``ttfi_ms`` only when the stream got that
    far, and ``itl_ms`` gets one sample per gap between consecutive items.
    """

    __slots__ = ("bytes", "items", "metrics", "notes", "outcome_counts", "streams")

    def __init__(self) -> None:
        self.streams = 0
        self.items = 0
        self.bytes = 0
        self.outcome_counts = [0] * len(OUTCOMES)
        self.notes = [0, 0, 0]  # streams buffered, redirected, sent again (see NOTES)
        self.metrics: dict[str, MetricHistogram] = {m.name: MetricHistogram(m) for m in METRICS}

    def record(self, result: StreamResult) -> None:
        """Count one finished stream."""
        self.streams += 1
        self.items += result.items
        self.bytes += result.bytes
        self.outcome_counts[_OUTCOME_INDEX[result.outcome]] += 1
        if result.buffered or result.redirects or result.resent:
            notes = self.notes
            notes[0] += result.buffered
            notes[1] += result.redirects > 0
            notes[2] += result.resent
        metrics = self.metrics
        if result.ttfb_s is not None:
            metrics[TTFB.name].record(result.ttfb_s)
        if result.ttfi_s is not None:
            metrics[TTFI.name].record(result.ttfi_s)
        if result.gaps_s:
            metrics[ITL.name].record_many(result.gaps_s)
        metrics[DURATION.name].record(result.duration_s)
        metrics[LIMIT_USED.name].record(result.limit_used)

    def merge(self, other: StreamStats) -> None:
        """Add ``other``'s streams to these (``other`` is not changed)."""
        self.streams += other.streams
        self.items += other.items
        self.bytes += other.bytes
        self.outcome_counts = [
            a + b for a, b in zip(self.outcome_counts, other.outcome_counts, strict=True)
        ]
        self.notes = [a + b for a, b in zip(self.notes, other.notes, strict=True)]
        for name, metric in self.metrics.items():
            metric.merge(other.metrics[name])

    @property
    def outcomes(self) -> dict[str, int]:
        """Every outcome value mapped to its count (zeros included), in Outcome order."""
        return {o.value: n for o, n in zip(OUTCOMES, self.outcome_counts, strict=True)}

    def block(self, elapsed_s: float) -> dict[str, Any]:
        """The design's stats block; rates are over ``elapsed_s`` (0 when it is 0)."""
        if not (math.isfinite(elapsed_s) and elapsed_s >= 0):
            raise StatsError(f"elapsed_s must be finite and >= 0 seconds, got {elapsed_s!r}")
        ok = self.outcome_counts[_OUTCOME_INDEX[Outcome.OK]]
        block: dict[str, Any] = {
            "streams": self.streams,
            "outcomes": self.outcomes,
            "error_rate": (self.streams - ok) / self.streams if self.streams else 0.0,
            "items": self.items,
            "bytes": self.bytes,
            "streams_per_s": self.streams / elapsed_s if elapsed_s else 0.0,
            "items_per_s": self.items / elapsed_s if elapsed_s else 0.0,
            **dict(zip(NOTES, self.notes, strict=True)),
        }
        for name, metric in self.metrics.items():
            block[name] = metric.summary()
        return block

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict; metrics with no samples are left out to keep deltas small."""
        return {
            "streams": self.streams,
            "items": self.items,
            "bytes": self.bytes,
            "outcomes": {o: n for o, n in self.outcomes.items() if n},
            "metrics": {k: m.to_wire() for k, m in self.metrics.items() if m.count},
            "notes": self.notes,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> StreamStats:
        """Rebuild from :meth:`to_wire` output; raise StatsError if it is malformed."""
        stats = cls()
        try:
            stats.streams = int(wire["streams"])
            stats.items = int(wire["items"])
            stats.bytes = int(wire["bytes"])
            outcomes: Mapping[str, Any] = wire["outcomes"]
            metrics: Mapping[str, Any] = wire["metrics"]
            for name, count in outcomes.items():
                stats.outcome_counts[_OUTCOME_INDEX[Outcome(name)]] = int(count)
            notes = list(wire.get("notes") or (0, 0, 0))
            stats.notes = [int(n) for n in notes[: len(NOTES)]] + [0] * (len(NOTES) - len(notes))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StatsError(
                f"malformed stream counters in a stats delta ({type(exc).__name__}: {exc}); "
                f"expected keys streams, items, bytes, outcomes (one of "
                f"{', '.join(o.value for o in OUTCOMES)}) and metrics"
            ) from exc
        for name, metric_wire in metrics.items():
            if name not in stats.metrics:
                raise StatsError(
                    f"unknown metric {name!r} in a stats delta; expected one of "
                    f"{', '.join(m.name for m in METRICS)}"
                )
            stats.metrics[name] = MetricHistogram.from_wire(stats.metrics[name].spec, metric_wire)
        return stats
