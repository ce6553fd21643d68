"""What the simulator remembers: one JSONL line per request, and its own scheduling error.

The log lets tests and users match harness records (by ``job_id``) to the server's truth. The
scheduling error (actual minus planned send time of each item) says whether the simulator
itself kept up, so a benchmark can tell its limits from the client's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from harness.errors import ConfigError

#: Outcome words in the log (``--log``), with their meaning.
OUTCOMES: dict[str, str] = {
    "ok": "complete stream, closing bracket and terminal chunk sent",
    "http_error": "injected 4xx/5xx before streaming (fault 'status')",
    "reset": "connection reset (RST) mid-stream (fault 'reset')",
    "truncated": "body ended cleanly but without the closing ] (fault 'truncate')",
    "malformed": "one item was invalid JSON (fault 'malformed')",
    "stalled": "a pause of N seconds mid-stream (fault 'stall'), then completed",
    "trickle": "sent one byte per chunk (fault 'trickle'), completed",
    "oversized": "one very large item (fault 'oversized'), completed",
    "over_limit": "ran past the execution limit without being cut (fault 'over_limit')",
    "cut_at_limit": "the execution limit was reached: connection closed without ] or last chunk",
    "rejected_429": "capacity: queue full, 429 with Retry-After",
    "rejected_503": "capacity: queue full (or queued until the limit), 503 with Retry-After",
    "client_gone": "the client closed the connection (or stopped reading) mid-stream",
    "bad_request": "400: bad env, key in both header and query, bad x-flowload-* flag",
    "unauthorized": "401: missing or unknown API key",
    "not_found": "404: unknown path, flow, tenant or workspace",
    "method_not_allowed": "405: method other than GET or POST",
}


class StreamLog:
    """Appends one JSON object per request to a file, flushed per line (None path: no-op)."""

    def __init__(self, path: str | Path | None) -> None:
        self._file: IO[bytes] | None = None
        if path is not None:
            try:
                self._file = Path(path).open("ab")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise ConfigError(f"cannot open log file {path}: {exc.strerror}") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (adds ``ts``, the wall-clock time it was written)."""
        if self._file is not None:
            record["ts"] = round(time.time(), 6)
            self._file.write(orjson.dumps(record) + b"\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(slots=True)
class Counters:
    """Running totals for the stats endpoint."""

    streams_started: int = 0
    streams_active: int = 0
    items_sent: int = 0
    bytes_sent: int = 0


class LateHistogram:
    """Counts of scheduling errors: 10 us buckets up to 100 ms, then 1 ms buckets up to 60 s.

    Cheaper per value than an HDR histogram (a list increment, ~0.2 us instead of ~1.6 us),
    which matters at tens of thousands of items per second; 10 us resolution is plenty for a
    2 ms target, and an overloaded run still gets honest (coarser) percentiles. The maximum
    is kept exactly.
    """

    FINE = 10_000  # 10 us buckets below 100 ms
    COARSE = 60_000  # then 1 ms buckets up to 60.1 s (the last one holds everything above)

    def __init__(self) -> None:
        self.counts = [0] * (self.FINE + self.COARSE)
        self.total = 0
        self.max_s = 0.0

    def record(self, late_s: float) -> None:
        """Count one scheduling error in seconds (callers pass ``abs(actual - planned)``)."""
        if late_s < 0.1:
            index = int(late_s * 100_000.0) if late_s > 0 else 0
        else:
            index = min(self.FINE + int((late_s - 0.1) * 1000.0), self.FINE + self.COARSE - 1)
        self.counts[index] += 1
        self.total += 1
        if late_s > self.max_s:  # noqa: PLR1730 - hot path: a max() call costs more
            self.max_s = late_s

    def _upper_edge_s(self, index: int) -> float:
        if index < self.FINE:
            return (index + 1) * 10e-6
        if index == self.FINE + self.COARSE - 1:
            return math.inf  # the open-ended last bucket: report the exact maximum
        return 0.1 + (index - self.FINE + 1) * 1e-3

    def percentile_ms(self, pct: float) -> float | None:
        """The upper edge of the bucket holding the ``pct``-th percentile (capped at the max)."""
        if not self.total:
            return None
        rank = max(1, math.ceil(self.total * pct / 100.0))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return round(min(self._upper_edge_s(index), self.max_s) * 1000.0, 3)
        return round(self.max_s * 1000.0, 3)  # pragma: no cover - counts sum to total

    def reset(self) -> None:
        """Forget every value."""
        self.counts = [0] * (self.FINE + self.COARSE)
        self.total = 0
        self.max_s = 0.0


class SchedStats:
    """How far from their plan items were sent (``|actual - planned|``), and counters."""

    def __init__(self) -> None:
        self.hist = LateHistogram()
        self.counters = Counters()
        self.max_active = 0
        self.record_error = self.hist.record

    def reset(self) -> None:
        """Forget the histogram and the peak (between benchmark steps)."""
        self.hist.reset()
        self.max_active = self.counters.streams_active

    def snapshot(self) -> dict[str, Any]:
        """Scheduling error percentiles (ms) and counters."""
        h, c = self.hist, self.counters
        return {
            "sched_error_ms": {
                "count": h.total,
                "p50": h.percentile_ms(50),
                "p99": h.percentile_ms(99),
                "p99.9": h.percentile_ms(99.9),
                "max": round(h.max_s * 1000.0, 3) if h.total else None,
            },
            "streams_started": c.streams_started,
            "streams_active": c.streams_active,
            "max_active": self.max_active,
            "items_sent": c.items_sent,
            "bytes_sent": c.bytes_sent,
        }
