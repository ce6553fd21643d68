"""Generator health: can the item times of this run be trusted, and if not, why.

The verdict measures the error itself (:mod:`harness.transport._timing`):

* **kernel stamps** (the default on Linux): an item's time is the kernel's arrival time of the
  segment that completed it, whatever the load generator was doing. It can be off only when one
  read returned bytes of several server writes and the item completed in an older one; each
  such item carries a bound. The run is flagged when more than :data:`UNCERTAIN_ITEMS_PCT` % of
  its items may be off by more than 1 ms.
* **user-space times** with stamps still measured (``--timestamps user`` on Linux): every item
  is late by the read's delivery lag; flagged when its p99 exceeds :data:`LAG_UNTRUSTED_MS`.
* **user-space times without stamps** (other platforms): the old proxies decide: event-loop
  lag p99 above :data:`LAG_SATURATED_MS` or CPU p90 above :data:`CPU_SATURATED_PCT`.

CPU share, event-loop lag and the share of time spent waiting for a CPU (``/proc/self/schedstat``)
are sampled all along and named as explanations when a run is flagged; with kernel stamps they
are not verdicts of their own (a busy generator still stamps correctly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

from harness.transport import CLOCK_KERNEL, PROCESS_TIMINGS, ReadTimings

UNCERTAIN_ITEMS_PCT = 1.0  # kernel stamps: share of items that may be off by > 1 ms
LAG_UNTRUSTED_MS = 2.0  # user-space times: delivery lag p99, calibrated in docs/benchmarks.md
LAG_SATURATED_MS = 4.0  # no stamps at all: event-loop lag p99
CPU_SATURATED_PCT = 90.0  # no stamps at all: CPU p90; elsewhere an explanation
CPU_WAIT_NOTABLE_PCT = 2.0  # an explanation only: other processes had the CPUs
_SCHEDSTAT = Path("/proc/self/schedstat")


def run_delay_s() -> float | None:
    """Seconds this process has spent ready to run but waiting for a CPU (None off Linux)."""
    try:
        return int(_SCHEDSTAT.read_text(encoding="ascii").split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class HealthSamples:
    """CPU percentages, loop lags (ms), CPU-wait shares and read timings of one process."""

    cpu_pct: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    cpu_wait_pct: list[float] = field(default_factory=list)  # empty where schedstat is missing
    timings: ReadTimings = field(default_factory=ReadTimings)

    def summary(self) -> dict[str, Any]:
        """Percentiles, the error bound and the verdict with its causes, JSON-ready."""
        cpu, lag, wait = sorted(self.cpu_pct), sorted(self.lag_ms), sorted(self.cpu_wait_pct)
        summary: dict[str, Any] = {
            "samples": len(cpu),
            "cpu_pct_p50": round(_quantile(cpu, 0.5), 1),
            "cpu_pct_p90": round(_quantile(cpu, 0.90), 1),
            "cpu_pct_max": round(cpu[-1], 1) if cpu else 0.0,
            "loop_lag_ms_p50": round(_quantile(lag, 0.5), 3),
            "loop_lag_ms_p99": round(_quantile(lag, 0.99), 3),
            "loop_lag_ms_max": round(lag[-1], 3) if lag else 0.0,
            "cpu_wait_pct_p50": round(_quantile(wait, 0.5), 2),
            "cpu_wait_pct_p90": round(_quantile(wait, 0.90), 2),
            "cpu_wait_pct_max": round(wait[-1], 2) if wait else 0.0,
            "clock": self.timings.clock,
            "error_bound": self.timings.summary(),
        }
        reasons = untrusted_reasons(summary)
        summary["saturated"] = bool(reasons)
        summary["causes"] = [*reasons, *explanations(summary)] if reasons else []
        return summary


def untrusted_reasons(summary: dict[str, Any]) -> list[str]:
    """Why the figures of a :meth:`HealthSamples.summary` cannot be trusted to ~2 ms."""
    bound = summary.get("error_bound") or {}
    if summary.get("clock") == CLOCK_KERNEL:
        pct = float(bound.get("over_1ms_pct") or 0.0)
        if pct > UNCERTAIN_ITEMS_PCT:
            limit = UNCERTAIN_ITEMS_PCT
            reason = (
                f"{pct:.1f} % of items may be off by more than 1 ms (> {limit:g} %): "
                "reads held bytes of several server writes"
            )
            return [reason]
        return []
    lag = bound.get("delivery_lag_p99_ms")
    if lag is not None:
        if lag > LAG_UNTRUSTED_MS:
            reason = (
                f"bytes were seen {lag:.1f} ms late (delivery lag p99 > {LAG_UNTRUSTED_MS:g} ms) "
                "with user-space timestamps"
            )
            return [reason]
        return []
    reasons = []
    if summary.get("loop_lag_ms_p99", 0.0) > LAG_SATURATED_MS:
        reasons.append(
            f"event-loop lag p99 {summary['loop_lag_ms_p99']:.1f} ms > {LAG_SATURATED_MS:g} ms"
        )
    if summary.get("cpu_pct_p90", 0.0) > CPU_SATURATED_PCT:
        reasons.append(f"CPU p90 {summary['cpu_pct_p90']:.0f} % > {CPU_SATURATED_PCT:g} %")
    return reasons


def explanations(summary: dict[str, Any]) -> list[str]:
    """What was busy (CPU, loop lag, CPU wait, delivery lag), as phrases with figures."""
    out = []
    cpu, lag = summary.get("cpu_pct_p90", 0.0), summary.get("loop_lag_ms_p99", 0.0)
    wait = summary.get("cpu_wait_pct_p90", 0.0)
    delivery = (summary.get("error_bound") or {}).get("delivery_lag_p99_ms")
    kernel = summary.get("clock") == CLOCK_KERNEL
    if kernel or delivery is not None:  # without any stamps, CPU and loop lag are the verdict
        if cpu > CPU_SATURATED_PCT:
            out.append(f"CPU p90 {cpu:.0f} %")
        if lag > LAG_SATURATED_MS:
            out.append(f"event-loop lag p99 {lag:.1f} ms")
    if wait > CPU_WAIT_NOTABLE_PCT:
        out.append(
            f"waiting for a CPU {wait:.1f} % of the time (p90): other processes had the CPUs"
        )
    if kernel and delivery is not None and delivery > LAG_UNTRUSTED_MS:
        out.append(f"delivery lag p99 {delivery:.1f} ms")
    return out


def saturation_causes(summary: dict[str, Any]) -> list[str]:
    """The causes of a flagged health summary (recomputed for summaries that lack them)."""
    causes = summary.get("causes")
    if isinstance(causes, list):
        return [str(c) for c in causes]
    reasons = untrusted_reasons(summary)
    return [*reasons, *explanations(summary)] if reasons else []


class HealthMonitor:
    """Samples CPU share, loop lag and CPU wait every ``interval_s`` in a background greenlet.

    Read timings come from ``timings`` (by default the process's :data:`PROCESS_TIMINGS`, where
    the transport and the measurement record them) and are moved into the samples by
    :meth:`collect` and :meth:`take`.
    """

    def __init__(
        self,
        interval_s: float = 1.0,
        lag_probe_s: float = 0.05,
        timings: ReadTimings = PROCESS_TIMINGS,
    ) -> None:
        self.interval_s = interval_s
        self.lag_probe_s = lag_probe_s
        self.samples = HealthSamples()
        self._timings = timings
        self._greenlet: gevent.Greenlet[Any, Any] | None = None

    def start(self) -> None:
        """Start sampling (idempotent)."""
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop sampling; samples are kept."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def collect(self) -> HealthSamples:
        """Move the read timings recorded so far into the samples; return the samples."""
        self.samples.timings.merge(self._timings.take())
        return self.samples

    def take(self) -> HealthSamples:
        """Return the samples so far and start a new batch (for worker → master reports)."""
        taken = self.collect()
        self.samples = HealthSamples()
        return taken

    def _run(self) -> None:
        wall, cpu, waited = time.perf_counter(), time.process_time(), run_delay_s()
        while True:
            # Several short timed sleeps per interval: each one's oversleep is the loop's lag.
            deadline = wall + self.interval_s
            while (now := time.perf_counter()) < deadline:
                wanted = min(self.lag_probe_s, deadline - now)
                before = time.perf_counter()
                gevent.sleep(wanted)
                late = time.perf_counter() - before - wanted
                self.samples.lag_ms.append(max(0.0, late) * 1000.0)
            new_wall, new_cpu, new_waited = time.perf_counter(), time.process_time(), run_delay_s()
            elapsed = max(new_wall - wall, 1e-9)
            self.samples.cpu_pct.append(100.0 * (new_cpu - cpu) / elapsed)
            if waited is not None and new_waited is not None:
                self.samples.cpu_wait_pct.append(100.0 * (new_waited - waited) / elapsed)
            wall, cpu, waited = new_wall, new_cpu, new_waited


def merge_samples(parts: list[HealthSamples]) -> HealthSamples:
    """Pool samples of several batches (of one process)."""
    merged = HealthSamples()
    for part in parts:
        merged.cpu_pct.extend(part.cpu_pct)
        merged.lag_ms.extend(part.lag_ms)
        merged.cpu_wait_pct.extend(part.cpu_wait_pct)
        merged.timings.merge(part.timings)
    return merged
