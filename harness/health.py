"""Generator health: is the load generator itself the bottleneck.

When the client process is short of CPU or its event loop is late, the latencies it reports
describe the harness, not the server. A monitor greenlet samples the process's CPU share, the
gevent loop's lag (how late a timed wake-up fires) and, on Linux, the share of time the process
was ready to run but had no CPU (``/proc/self/schedstat``: other processes had it) while the
test runs. Bytes that arrive while the process waits for a CPU are timestamped late.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

CPU_SATURATED_PCT = 90.0
LAG_SATURATED_MS = 4.0  # calibrated with benchmarks/fidelity.py: see docs/benchmarks.md
CPU_WAIT_SATURATED_PCT = 2.0  # calibrated with benchmarks/fidelity.py: see docs/benchmarks.md
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
    """CPU percentages and loop lags (ms) sampled in one process."""

    cpu_pct: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    cpu_wait_pct: list[float] = field(default_factory=list)  # empty where schedstat is missing

    def summary(self) -> dict[str, Any]:
        """Percentiles and the saturation verdict, JSON-ready."""
        cpu = sorted(self.cpu_pct)
        lag = sorted(self.lag_ms)
        wait = sorted(self.cpu_wait_pct)
        cpu_p90 = _quantile(cpu, 0.90)
        lag_p99 = _quantile(lag, 0.99)
        wait_p90 = _quantile(wait, 0.90)
        return {
            "samples": len(cpu),
            "cpu_pct_p50": round(_quantile(cpu, 0.5), 1),
            "cpu_pct_p90": round(cpu_p90, 1),
            "cpu_pct_max": round(cpu[-1], 1) if cpu else 0.0,
            "loop_lag_ms_p50": round(_quantile(lag, 0.5), 3),
            "loop_lag_ms_p99": round(lag_p99, 3),
            "loop_lag_ms_max": round(lag[-1], 3) if lag else 0.0,
            "cpu_wait_pct_p50": round(_quantile(wait, 0.5), 2),
            "cpu_wait_pct_p90": round(wait_p90, 2),
            "cpu_wait_pct_max": round(wait[-1], 2) if wait else 0.0,
            "saturated": cpu_p90 > CPU_SATURATED_PCT
            or lag_p99 > LAG_SATURATED_MS
            or wait_p90 > CPU_WAIT_SATURATED_PCT,
        }


class HealthMonitor:
    """Samples CPU share and loop lag every ``interval_s`` in a background greenlet."""

    def __init__(self, interval_s: float = 1.0, lag_probe_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.lag_probe_s = lag_probe_s
        self.samples = HealthSamples()
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

    def take(self) -> HealthSamples:
        """Return the samples so far and start a new batch (for worker → master reports)."""
        taken, self.samples = self.samples, HealthSamples()
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


def saturation_causes(summary: dict[str, Any]) -> list[str]:
    """Why a :meth:`HealthSamples.summary` says saturated: one phrase per signal, with figures."""
    causes = []
    cpu, lag = summary.get("cpu_pct_p90", 0.0), summary.get("loop_lag_ms_p99", 0.0)
    wait = summary.get("cpu_wait_pct_p90", 0.0)
    if cpu > CPU_SATURATED_PCT:
        causes.append(f"CPU p90 {cpu:.0f} % > {CPU_SATURATED_PCT:g} %")
    if lag > LAG_SATURATED_MS:
        causes.append(f"event-loop lag p99 {lag:.1f} ms > {LAG_SATURATED_MS:g} ms")
    if wait > CPU_WAIT_SATURATED_PCT:
        causes.append(
            f"waiting for a CPU {wait:.1f} % of the time (p90) > {CPU_WAIT_SATURATED_PCT:g} %: "
            "other processes had the CPUs"
        )
    return causes


def merge_samples(parts: list[HealthSamples]) -> HealthSamples:
    """Pool samples of several batches (of one process)."""
    merged = HealthSamples()
    for part in parts:
        merged.cpu_pct.extend(part.cpu_pct)
        merged.lag_ms.extend(part.lag_ms)
        merged.cpu_wait_pct.extend(part.cpu_wait_pct)
    return merged
