"""Generator health for the reports: the clock, its error bound, and each process's health.

Which clock stamped the items, how far its stamps can be off, and whether each load-generating
process kept up (CPU, event-loop lag, waiting for a CPU).

Read from ``run.clock``, ``run.error_bound`` and ``run.generator`` (``local``, or ``workers`` by
id). Summaries from before these fields existed render what they have: a missing field reads
"not recorded", never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.render import fmt
from harness.report.render.table import Table
from harness.results import RunData
from harness.run.health import saturation_causes

NOT_RECORDED = "not recorded (a summary from an older flowload)"
_CLOCKS = {
    "kernel": "the kernel's receive time of each read",
    "user": "the time the harness read the bytes (user space)",
    "mixed": "the kernel's receive time where available, user-space time elsewhere",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ms(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "-"
    return f"{number:.3g} ms" if number < 10 else fmt.ms(number)


def clock_text(run: RunData) -> str:
    """Which clock stamped the items (and which was asked for), or that it was not recorded."""
    clock = run.run.get("clock")
    if not isinstance(clock, Mapping):
        return NOT_RECORDED
    used = str(clock.get("used") or "?")
    text = f"{used}: {_CLOCKS.get(used, 'unknown clock')}"
    requested = clock.get("requested")
    if requested and requested != used:
        text += f" (asked for: {requested})"
    note = clock.get("note")
    return f"{text}. {note}" if note else text


def error_bound_text(run: RunData) -> str:
    """How far item timestamps may be off, and the delivery lag, in one sentence."""
    bound = run.run.get("error_bound")
    if not isinstance(bound, Mapping):
        return NOT_RECORDED
    items = _number(bound.get("items"))
    over = _number(bound.get("over_1ms"))
    share = _number(bound.get("over_1ms_pct"))
    head = "-"
    if items is not None and over is not None:
        pct = "" if share is None else f" ({share:.2g} %)"
        head = f"{fmt.count(over)} of {fmt.count(items)} items{pct} could be off by more than 1 ms"
    return (
        f"{head}; error bound p99 {_ms(bound.get('p99_ms'))}, max {_ms(bound.get('max_ms'))}; "
        f"delivery lag p50 {_ms(bound.get('delivery_lag_p50_ms'))}, "
        f"p99 {_ms(bound.get('delivery_lag_p99_ms'))}, max {_ms(bound.get('delivery_lag_max_ms'))}"
    )


def processes(info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each load-generating process's health summary (``local``, or per worker id).

    ``info`` is a summary's ``run`` section.
    """
    generator = info.get("generator")
    if not isinstance(generator, Mapping):
        return {}
    local = generator.get("local")
    if isinstance(local, Mapping):
        return {"local": local}
    workers = generator.get("workers")
    if isinstance(workers, Mapping):
        return {str(k): v for k, v in workers.items() if isinstance(v, Mapping)}
    return {}


def causes(health: Mapping[str, Any]) -> list[str]:
    """Why a process was saturated: the phrases the console printed (or the same, recomputed)."""
    given = health.get("causes")
    if isinstance(given, list):
        return [str(c) for c in given]
    return saturation_causes(dict(health)) if health.get("saturated") else []


def _triple(health: Mapping[str, Any], prefix: str, stats: tuple[str, str, str], unit: str) -> str:
    values = [_number(health.get(f"{prefix}_{s}")) for s in stats]
    if all(v is None for v in values):
        return "-"
    return " / ".join("-" if v is None else f"{v:.3g}" for v in values) + f" {unit}"


def process_table(run: RunData) -> Table:
    """One row per process: CPU, loop lag, CPU wait, verdict and its cause."""
    header = ["process", "CPU p50 / p90 / max", "loop lag p50 / p99 / max",
              "waiting for a CPU p50 / p90 / max", "verdict", "cause"]  # fmt: skip
    rows = [
        [
            name,
            _triple(health, "cpu_pct", ("p50", "p90", "max"), "%"),
            _triple(health, "loop_lag_ms", ("p50", "p99", "max"), "ms"),
            _triple(health, "cpu_wait_pct", ("p50", "p90", "max"), "%"),
            "saturated" if health.get("saturated") else "kept up",
            "; ".join(causes(health)),
        ]
        for name, health in processes(run.run).items()
    ]
    note = (
        "Saturated: CPU p90 over 90 %, event-loop lag p99 over 4 ms, or waiting for a CPU over "
        "2 % of the time: latencies then include the harness's own delays."
    )
    return Table(header, rows, note)


def saturation_summary(info: Mapping[str, Any]) -> str:
    """``local: CPU p90 97 % > 90 %`` per saturated process of a ``run`` section (or empty)."""
    parts = []
    for name, health in processes(info).items():
        found = causes(health) if health.get("saturated") else []
        if found:
            parts.append(f"{name}: {', '.join(found)}")
    return "; ".join(parts)


def health_facts(run: RunData) -> list[tuple[str, str]]:
    """The clock and its error bound as label/value pairs."""
    return [("clock", clock_text(run)), ("timestamp error", error_bound_text(run))]
