"""Scoring and reporting for fidelity.py: item-time errors against the plan and the server's log.

A client stream is ``(start wall s, ttfi s, [gap s], job_id, flow)``. The simulator's log gives,
per job, ``sent_at``: ``perf_counter()`` just before each item's send call. Two errors per gap:

* against the **schedule**: measured gap - 50 ms (what a user of the plan would compare with);
  this includes the simulator's own scheduling error;
* against the **actual sends**: measured gap - (sent_at[i+1] - sent_at[i]), the harness's own
  error, whatever the simulator's timing was.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import orjson

TTFI_MS = 100.0
GAP_MS = 50.0
Stream = tuple[float, float | None, list[float], str | None, str]


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def server_sends(log: Path) -> dict[str, list[float]]:
    """job_id -> the simulator's actual send times, from its ``--log`` file."""
    sends: dict[str, list[float]] = {}
    if not log.exists():
        return sends
    for line in log.read_bytes().splitlines():
        record = orjson.loads(line)
        if record.get("job_id") and record.get("sent_at"):
            sends[record["job_id"]] = record["sent_at"]
    return sends


def score(
    streams: list[Stream], sends: dict[str, list[float]], w0: float, w1: float
) -> dict[str, Any]:
    """Gap errors (ms) vs schedule and vs actual sends, TTFI errors, for the paced streams."""
    plan_err: list[float] = []
    actual_err: list[float] = []
    ttfi_err: list[float] = []
    for start, ttfi, gaps, job, flow in streams:
        if ttfi is None or flow != "paced":
            continue
        t = start + ttfi
        if w0 <= start <= w1:
            ttfi_err.append(ttfi * 1000.0 - TTFI_MS)
        sent = sends.get(job or "")
        real = [b - a for a, b in itertools.pairwise(sent)] if sent else []
        for i, gap in enumerate(gaps):
            t += gap
            if w0 <= t <= w1:
                plan_err.append(gap * 1000.0 - GAP_MS)
                if i < len(real):
                    actual_err.append((gap - real[i]) * 1000.0)
    return _errors(plan_err, actual_err, ttfi_err)


def _errors(plan: list[float], actual: list[float], ttfi: list[float]) -> dict[str, Any]:
    absg, absa, abst = [abs(e) for e in plan], [abs(e) for e in actual], [abs(e) for e in ttfi]
    return {
        "gaps": len(plan),
        "gap_abs_p50_ms": pct(absg, 0.5),
        "gap_abs_p99_ms": pct(absg, 0.99),
        "gap_abs_max_ms": max(absg, default=float("nan")),
        "gap_signed_p99_ms": pct(plan, 0.99),
        "actual_gaps": len(actual),
        "actual_abs_p50_ms": pct(absa, 0.5),
        "actual_abs_p99_ms": pct(absa, 0.99),
        "actual_abs_max_ms": max(absa, default=float("nan")),
        "ttfis": len(ttfi),
        "ttfi_abs_p50_ms": pct(abst, 0.5),
        "ttfi_abs_p99_ms": pct(abst, 0.99),
    }


def load_ours(path: Path) -> list[Stream]:
    """Streams written by fidelity_locustfile.py."""
    return [(s, t, list(g), j, f) for s, t, g, j, f in orjson.loads(path.read_bytes())]


def load_baseline(path: Path) -> list[Stream]:
    """Streams written by baseline/locustfile.py, as (start, ttfi, gaps, job, "paced")."""
    out: list[Stream] = []
    for start, stamps, job in orjson.loads(path.read_bytes()):
        if stamps:
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            out.append((start, stamps[0] - start, gaps, job, "paced"))
    return out


# --- the table ----------------------------------------------------------------------------
def _f(value: Any, digits: int = 2) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


HEADER = (
    "client", "streams", "items/s", "gap err vs actual sends p50 / p99 / max ms",
    "gap err vs schedule p99 (each window)", "sim send err p99", "TTFI err p99",
    "client CPU", "delivery lag p99 / max ms", "items > 1 ms", "verdict",
)  # fmt: skip


def _cells(r: dict[str, Any]) -> list[str]:
    sched = (r.get("sim_sched_error_ms") or {}).get("p99")
    bound = r.get("error_bound") or {}
    actual = [_f(r["actual_abs_p50_ms"]), _f(r["actual_abs_p99_ms"]), _f(r["actual_abs_max_ms"], 1)]
    windows = ", ".join(_f(v, 1) for v in r["gap_abs_p99_all_ms"])
    lag = f"{_f(bound.get('delivery_lag_p99_ms'))} / {_f(bound.get('delivery_lag_max_ms'), 1)}"
    uncertain = _f(bound.get("over_1ms_pct"), 2) + " %" if bound else "-"
    verdict = (
        "-"
        if r.get("generator_saturated") is None
        else ("flagged" if r["generator_saturated"] else "ok")
    )
    return [
        r["kind"], str(r["streams"]), f"{r['items_per_s']:.0f}", " / ".join(actual),
        f"{_f(r['gap_abs_p99_ms'])} ({windows})", _f(sched), _f(r["ttfi_abs_p99_ms"]),
        f"{r['client_cpu']:.2f}", lag if bound else "-", uncertain, verdict,
    ]  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the results as a Markdown table."""
    print("| " + " | ".join(HEADER) + " |")
    print("|---" * len(HEADER) + "|")
    for r in rows:
        if "error" in r:
            print(f"| {r['kind']} | {r['streams']} | failed: {r['error'][-200:]!r} |")
        else:
            print("| " + " | ".join(_cells(r)) + " |")


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per row: kernel stamps within sim p99 + 0.5 ms; ratio to the usual locustfile."""
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {"within_sim_plus_0_5ms": {}, "ratio_to_baseline": {}}
    for r in ok:
        sched = (r.get("sim_sched_error_ms") or {}).get("p99")
        key = f"{r['kind']}@{r['streams']}"
        if sched is not None:
            out["within_sim_plus_0_5ms"][key] = r["gap_abs_p99_ms"] <= sched + 0.5
        base_kind = "baseline+hog" if "+hog" in r["kind"] else "baseline"
        base = next(
            (b for b in ok if b["kind"] == base_kind and b["streams"] == r["streams"]), None
        )
        if base is not None and r["kind"] != base_kind:
            out["ratio_to_baseline"][key] = base["gap_abs_p99_ms"] / max(r["gap_abs_p99_ms"], 1e-9)
    return out
