"""What a gate or SLO can measure: the stats-block keys, their kinds, units and labels."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from harness.results.stream import OUTCOMES

__all__ = [
    "BLOCK_METRICS",
    "LABELS",
    "OPS",
    "OUTCOME_NAMES",
    "SCALAR_METRICS",
    "SIGNIFICANCE_FIELDS",
    "STATS",
    "Kind",
    "MetricRef",
    "canonical_metric",
    "format_value",
    "valid_help",
]

STATS: tuple[str, ...] = ("count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
OPS: tuple[str, ...] = ("<", "<=", ">", ">=", "==", "!=")


class Kind(enum.Enum):
    """What a number means, which decides the units a threshold may carry."""

    TIME = "ms"  # summary values in milliseconds; thresholds in ms or s
    RATIO = "ratio"  # 0..1 (limit_used may exceed 1); thresholds as a fraction or in %
    COUNT = "count"
    RATE = "1/s"

    @property
    def units(self) -> dict[str, float]:
        """Accepted units mapped to their factor to the summary's unit ("" = no unit)."""
        if self is Kind.TIME:
            return {"": 1.0, "ms": 1.0, "s": 1000.0}
        if self is Kind.RATIO:
            return {"": 1.0, "%": 0.01}
        return {"": 1.0}


# Gate name -> (stats-block key, kind of its values).
BLOCK_METRICS: dict[str, tuple[str, Kind]] = {
    "ttfb": ("ttfb_ms", Kind.TIME),
    "ttfi": ("ttfi_ms", Kind.TIME),
    "itl": ("itl_ms", Kind.TIME),
    "duration": ("duration_ms", Kind.TIME),
    "limit_used": ("limit_used", Kind.RATIO),
}
# The block keys are accepted too (``ttfi_ms.p95``), since users read them in summary.json.
_ALIASES: dict[str, str] = {key: name for name, (key, _) in BLOCK_METRICS.items() if key != name}

# What people call each stats-block key, in messages and reports.
LABELS: dict[str, str] = {
    "ttfb_ms": "TTFB",
    "ttfi_ms": "TTFI",
    "itl_ms": "ITL",
    "duration_ms": "duration",
    "limit_used": "limit used",
    "error_rate": "error rate",
    "streams_per_s": "streams/s",
    "items_per_s": "items/s",
}

SCALAR_METRICS: dict[str, Kind] = {
    "error_rate": Kind.RATIO,
    "streams": Kind.COUNT,
    "items": Kind.COUNT,
    "bytes": Kind.COUNT,
    "streams_per_s": Kind.RATE,
    "items_per_s": Kind.RATE,
}

# Per-stream fields of streams.jsonl a significance test can compare. ITL has no per-stream
# distribution in the records: each stream's median gap stands for it.
SIGNIFICANCE_FIELDS: dict[str, str] = {
    "ttfb": "ttfb_ms",
    "ttfi": "ttfi_ms",
    "itl": "itl_p50_ms",
    "duration": "duration_ms",
    "limit_used": "limit_used",
}

OUTCOME_NAMES: tuple[str, ...] = tuple(o.value for o in OUTCOMES)


@dataclass(frozen=True, slots=True)
class MetricRef:
    """One number of a stats block: ``path`` into the block, ``text`` as written canonically."""

    name: str  # ttfi | error_rate | outcomes | streams ...
    stat: str | None  # p95 for block metrics, the outcome for ``outcomes``, else None
    kind: Kind

    @property
    def path(self) -> tuple[str, ...]:
        """Keys leading to the value inside a stats block."""
        if self.name in BLOCK_METRICS:
            return (BLOCK_METRICS[self.name][0], str(self.stat))
        if self.name == "outcomes":
            return ("outcomes", str(self.stat))
        return (self.name,)

    @property
    def text(self) -> str:
        """Canonical spelling, e.g. ``ttfi.p95`` or ``outcomes.stalled``."""
        return self.name if self.stat is None else f"{self.name}.{self.stat}"


def canonical_metric(name: str) -> str:
    """``ttfi_ms`` -> ``ttfi``; other names unchanged."""
    return _ALIASES.get(name, name)


def valid_help() -> str:
    """The whole grammar in one paragraph, for error messages."""
    return (
        "[ENV[/FLOW]:] METRIC[.STAT] OP VALUE[UNIT] [significant]; "
        f"METRIC.STAT: {', '.join(BLOCK_METRICS)} with STAT one of {', '.join(STATS)} "
        "(p95 when omitted; ttfb/ttfi/itl/duration in ms or s, limit_used as a ratio or %; "
        "flat names such as ttfi_p95_ms carry their unit); "
        "error_rate (ratio or %); "
        f"outcomes.OUTCOME with OUTCOME one of {', '.join(OUTCOME_NAMES)}; "
        f"{', '.join(m for m in SCALAR_METRICS if m != 'error_rate')} (no unit); "
        f"OP one of {' '.join(OPS)}; VALUE a number, or baseline, baseline * FACTOR, "
        "baseline + VALUE[UNIT], baseline - VALUE[UNIT] (needs --baseline); "
        "e.g. 'Production: ttfi.p95 < 800ms', 'error_rate < 1%', "
        "'ttfi.p95 <= baseline * 1.10 significant'"
    )


def format_value(value: float, kind: Kind, unit: str = "") -> str:
    """``value`` (in the summary's unit) shown in the unit the gate was written in."""
    if kind is Kind.TIME:
        return f"{value / 1000:.6g} s" if unit == "s" else f"{value:.6g} ms"
    if kind is Kind.RATIO:
        return f"{value * 100:.6g}%" if unit == "%" else f"{value:.6g}"
    if kind is Kind.RATE:
        return f"{value:.6g}/s"
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"
