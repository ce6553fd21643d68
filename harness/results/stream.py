"""The outcome of one stream: what the measurement layer produces and everything else consumes."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    """Exactly one of these ends every stream the harness starts."""

    OK = "ok"
    HTTP_ERROR = "http_error"
    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    PROTOCOL_ERROR = "protocol_error"
    STALLED = "stalled"
    LIMIT_EXCEEDED = "limit_exceeded"


OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
# Streams worth a note, counted per stats block: what an intermediary or the network did to them.
NOTES = ("buffered_streams", "redirected_streams", "resent_streams")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


@dataclass(frozen=True, slots=True)
class StreamResult:
    """One measured stream. Durations are seconds from ``time.perf_counter``.

    ``started_at`` is wall-clock epoch seconds (a timestamp, never used for durations).
    ``ttfb_s``/``ttfi_s``/``duration_s`` are measured from the request start (or, in arrival-rate
    mode, from the intended start: ``schedule_lag_s`` says how late the actual start was).
    """

    env: str
    flow: str
    outcome: Outcome
    started_at: float
    duration_s: float
    limit_s: float
    status: int | None = None
    job_id: str | None = None
    ttfb_s: float | None = None
    ttfi_s: float | None = None
    gaps_s: tuple[float, ...] = field(default=())
    items: int = 0
    bytes: int = 0
    error: str | None = None
    schedule_lag_s: float = 0.0
    cause: str | None = None  # a failure no retry can fix: http_401, dns, tls, ... (fail-fast)
    retry_after_s: float | None = None  # the server's Retry-After (429/503), in seconds
    redirects: int = 0  # redirects followed before the final response
    redirected_to: str | None = None  # where the stream finally went (no secrets), if redirected
    resent: int = 0  # 1 when the request went again on a new connection (provably never sent)
    buffered: bool = False  # every item came in one or two reads, long after the request

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, Outcome):
            raise TypeError(f"outcome must be an Outcome, not {self.outcome!r}")
        if self.duration_s < 0 or not math.isfinite(self.duration_s):
            raise ValueError(f"duration_s must be finite and >= 0, got {self.duration_s}")
        if self.limit_s <= 0:
            raise ValueError(f"limit_s must be > 0, got {self.limit_s}")
        if self.items < 0 or self.bytes < 0:
            raise ValueError("items and bytes must be >= 0")

    @property
    def ok(self) -> bool:
        """True when the stream ended normally."""
        return self.outcome is Outcome.OK

    @property
    def limit_used(self) -> float:
        """Duration as a fraction of the server's execution limit (may exceed 1)."""
        return self.duration_s / self.limit_s

    def to_record(self, worker: str = "local") -> dict[str, Any]:
        """The ``streams.jsonl`` record of the design's contract (milliseconds)."""
        gaps = sorted(self.gaps_s)
        return {
            "t": round(self.started_at, 6),
            "env": self.env,
            "flow": self.flow,
            "job_id": self.job_id,
            "status": self.status,
            "outcome": self.outcome.value,
            "ttfb_ms": _ms(self.ttfb_s),
            "ttfi_ms": _ms(self.ttfi_s),
            "duration_ms": _ms(self.duration_s),
            "items": self.items,
            "bytes": self.bytes,
            "itl_p50_ms": _ms(gaps[(len(gaps) - 1) // 2]) if gaps else None,
            "itl_max_ms": _ms(gaps[-1]) if gaps else None,
            "limit_used": round(self.limit_used, 6),
            "schedule_lag_ms": _ms(self.schedule_lag_s),
            "error": self.error,
            "cause": self.cause,
            "redirects": self.redirects,
            "redirected_to": self.redirected_to,
            "resent": self.resent,
            "buffered": self.buffered,
            "worker": worker,
        }
