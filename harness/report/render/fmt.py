"""Number formatting shared by the HTML, Markdown and comparison renderers."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

PERCENTILES: tuple[str, ...] = ("p50", "p90", "p95", "p99", "p99.9", "max")
LATENCY_METRICS: tuple[tuple[str, str], ...] = (
    ("ttfb_ms", "TTFB"),
    ("ttfi_ms", "TTFI"),
    ("itl_ms", "ITL"),
    ("duration_ms", "Duration"),
)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def ms(value: Any) -> str:
    """Milliseconds for people: ``12.3 ms``, ``456 ms``, ``12.3 s``; ``-`` when missing."""
    number = _finite(value)
    if number is None:
        return "-"
    if abs(number) >= 10_000:
        return f"{number / 1000:.1f} s"
    if abs(number) >= 100:
        return f"{number:.0f} ms"
    return f"{number:.1f} ms"


def seconds(value: Any) -> str:
    """A configured time in seconds: ``300 s``, ``2.5 s`` (4 significant digits at most)."""
    number = _finite(value)
    return "-" if number is None else f"{number:.4g} s"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage (``0.123`` → ``12.3%``)."""
    number = _finite(value)
    return "-" if number is None else f"{100.0 * number:.{digits}f}%"


def signed_pct(value: Any) -> str:
    """A relative change with its sign (``+12.3%``)."""
    number = _finite(value)
    return "-" if number is None else f"{100.0 * number:+.1f}%"


def rate(value: Any) -> str:
    """A per-second rate with 2 significant decimals."""
    number = _finite(value)
    return "-" if number is None else f"{number:.2f}/s"


def count(value: Any) -> str:
    """An integer with thousands separators."""
    number = _finite(value)
    return "-" if number is None else f"{int(number):,}"


def size(value: Any) -> str:
    """Bytes for people (``1.2 MB``)."""
    number = _finite(value)
    if number is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(number) < 1000 or unit == "GB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1000.0
    return f"{number:.1f} GB"  # pragma: no cover - loop always returns


def epoch(value: float) -> str:
    """Epoch seconds as ``HH:MM:SS.mmm`` UTC (a timestamp for finding a stream in server logs)."""
    moment = dt.datetime.fromtimestamp(value, dt.UTC)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def outcome_summary(outcomes: dict[str, Any]) -> str:
    """Non-zero outcomes other than ok, e.g. ``truncated=2, http_error=1``; ``-`` when none."""
    parts = [f"{k}={v}" for k, v in outcomes.items() if k != "ok" and v]
    return ", ".join(parts) or "-"
