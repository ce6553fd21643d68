"""How true the item times of one process are: delivery lag per read, error bound per item.

* **Delivery lag**: user-space receipt minus the kernel's receive stamp of a read: how late the
  harness saw the bytes. With kernel stamps it does not enter the item times; it explains them.
* **Error bound**: with kernel stamps an item is exact when it completed in the newest segment
  of its read; an item that completed earlier in a read carrying later bytes may be off by up
  to the read's bound (see :mod:`harness.transport._loopwatch`). Exact items count as 0.

Recording is a dict increment (a read is a hot path); the histograms are sparse bucket counts
(1 µs buckets below 1 ms, three significant digits above), so they merge by addition and travel
from workers to the master as plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNCERTAIN_S = 1e-3  # items whose bound exceeds this are counted as not trustworthy to 1 ms


def bucket_us(us: int) -> int:
    """The bucket (its lower edge, µs) of a value in µs: exact below 1 ms, 3 digits above."""
    if us < 1000:
        return max(us, 0)
    width = 1
    while us >= 1000 * width:
        width *= 10
    return us // width * width


def _upper_edge_us(key: int) -> int:
    if key < 1000:
        return key
    width = 1
    while key >= 1000 * width:
        width *= 10
    return key + width - 1


class SparseHistogram:
    """Counts per µs bucket; mergeable by addition, JSON as ``{"bucket_us": count}``."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0

    def record(self, seconds: float, count: int = 1) -> None:
        """Count ``count`` values of ``seconds``."""
        key = bucket_us(int(seconds * 1e6))
        counts = self.counts
        counts[key] = counts.get(key, 0) + count
        self.total += count

    def merge(self, other: SparseHistogram) -> None:
        """Add another histogram's counts."""
        for key, count in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        self.total += other.total

    def percentile_ms(self, pct: float, zeros: int = 0) -> float | None:
        """The upper edge (ms) of the bucket holding the ``pct``-th percentile.

        ``zeros`` more values of 0 count as well (exact items are not recorded one by one).
        """
        total = self.total + zeros
        if not total:
            return None
        rank = max(1, -(-total * pct // 100))
        if rank <= zeros:
            return 0.0
        seen = zeros
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return _upper_edge_us(key) / 1000.0
        return self.max_ms()

    def max_ms(self) -> float | None:
        """The upper edge (ms) of the highest bucket."""
        return _upper_edge_us(max(self.counts)) / 1000.0 if self.counts else None

    def count_above(self, seconds: float) -> int:
        """How many values lie in buckets entirely above ``seconds``."""
        limit = int(seconds * 1e6)
        return sum(c for k, c in self.counts.items() if k > limit)

    def to_json(self) -> dict[str, int]:
        """Sparse counts with string keys (JSON objects need them)."""
        return {str(k): c for k, c in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SparseHistogram:
        """Inverse of :meth:`to_json`; bad entries are skipped, never raised."""
        hist = cls()
        for key, count in data.items():
            try:
                k, c = int(key), int(count)
            except (TypeError, ValueError):
                continue
            if c > 0:
                hist.counts[k] = hist.counts.get(k, 0) + c
                hist.total += c
        return hist


@dataclass
class ReadTimings:
    """One process's reading quality: which clock, delivery lags, error bounds, item counts."""

    clock: str = "user"
    lag: SparseHistogram = field(default_factory=SparseHistogram)
    bound: SparseHistogram = field(default_factory=SparseHistogram)
    items: int = 0  # items measured (exact ones are not in ``bound``)
    unstamped_reads: int = 0  # reads that came without a kernel stamp in kernel mode
    clock_steps: int = 0  # stamps that forced a re-pairing of the clocks (wall-clock steps)

    def record_bound(self, seconds: float, items: int) -> None:
        """``items`` items of one read that may be off by up to ``seconds``."""
        self.bound.record(seconds, items)

    def take(self) -> ReadTimings:
        """Return what was recorded so far and start afresh (worker → master reports)."""
        taken = ReadTimings(
            self.clock,
            self.lag,
            self.bound,
            self.items,
            self.unstamped_reads,
            self.clock_steps,
        )
        self.lag, self.bound = SparseHistogram(), SparseHistogram()
        self.items = self.unstamped_reads = self.clock_steps = 0
        return taken

    @property
    def empty(self) -> bool:
        """True when nothing was recorded."""
        return not (self.items or self.lag.total or self.bound.total or self.unstamped_reads)

    def merge(self, other: ReadTimings) -> None:
        """Add another batch (of this process or of a worker); clocks that differ are "mixed"."""
        if self.empty:
            self.clock = other.clock
        elif not other.empty and other.clock != self.clock:
            self.clock = "mixed"
        self.lag.merge(other.lag)
        self.bound.merge(other.bound)
        self.items += other.items
        self.unstamped_reads += other.unstamped_reads
        self.clock_steps += other.clock_steps

    def to_json(self) -> dict[str, Any]:
        """The worker → master form."""
        return {
            "clock": self.clock,
            "lag": self.lag.to_json(),
            "bound": self.bound.to_json(),
            "items": self.items,
            "unstamped_reads": self.unstamped_reads,
            "clock_steps": self.clock_steps,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReadTimings:
        """Inverse of :meth:`to_json` (missing parts are empty)."""
        return cls(
            clock=str(data.get("clock", "user")),
            lag=SparseHistogram.from_json(data.get("lag") or {}),
            bound=SparseHistogram.from_json(data.get("bound") or {}),
            items=int(data.get("items", 0)),
            unstamped_reads=int(data.get("unstamped_reads", 0)),
            clock_steps=int(data.get("clock_steps", 0)),
        )

    def summary(self) -> dict[str, Any]:
        """The ``error_bound`` figures of summary.json."""
        exact = max(self.items - self.bound.total, 0)
        over = self.bound.count_above(UNCERTAIN_S)
        return {
            "items": self.items,
            "over_1ms": over,
            "over_1ms_pct": round(100.0 * over / self.items, 3) if self.items else 0.0,
            "p99_ms": self.bound.percentile_ms(99, zeros=exact) if self.items else None,
            "max_ms": self.bound.max_ms() if self.bound.total else (0.0 if self.items else None),
            "delivery_lag_p50_ms": self.lag.percentile_ms(50),
            "delivery_lag_p99_ms": self.lag.percentile_ms(99),
            "delivery_lag_max_ms": self.lag.max_ms(),
            "unstamped_reads": self.unstamped_reads,
            "clock_steps": self.clock_steps,
        }


#: The process's timings: transports record lags here, measurement records item bounds.
PROCESS_TIMINGS = ReadTimings()
