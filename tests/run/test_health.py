"""Tests of harness.run.health: saturation thresholds, and a live monitor on the gevent loop."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import gevent
import gevent.monkey
import pytest

from harness.run.health import (
    CPU_SATURATED_PCT,
    CPU_WAIT_NOTABLE_PCT,
    LAG_SATURATED_MS,
    LAG_UNTRUSTED_MS,
    UNCERTAIN_ITEMS_PCT,
    HealthMonitor,
    HealthSamples,
    explanations,
    merge_samples,
    run_delay_s,
    saturation_causes,
)
from harness.transport import ReadTimings

# Locust (imported by another test module) monkey-patches time.sleep into a gevent sleep; the
# original blocks the whole loop, which is what these tests need.
blocking_sleep = gevent.monkey.get_original("time", "sleep")


def test_thresholds_are_the_documented_ones() -> None:
    assert UNCERTAIN_ITEMS_PCT == 1.0
    assert LAG_UNTRUSTED_MS == 2.0
    assert CPU_SATURATED_PCT == 90.0
    assert LAG_SATURATED_MS == 4.0
    assert CPU_WAIT_NOTABLE_PCT == 2.0


def kernel_timings(items: int, uncertain: int, bound_s: float = 0.005) -> ReadTimings:
    timings = ReadTimings(clock="kernel", items=items)
    timings.lag.record(0.0001, 10)
    if uncertain:
        timings.record_bound(bound_s, uncertain)
    return timings


@pytest.mark.parametrize(
    ("uncertain", "saturated"),
    [(0, False), (10, False), (11, False), (12, True), (500, True)],
)
def test_kernel_stamps_flag_a_run_by_its_uncertain_items(uncertain: int, saturated: bool) -> None:
    # 1,100 items: more than 1 % (11) that may be off by more than 1 ms flags the run.
    samples = HealthSamples(cpu_pct=[5.0], lag_ms=[0.1], timings=kernel_timings(1100, uncertain))
    summary = samples.summary()
    assert summary["saturated"] is saturated
    assert summary["error_bound"]["over_1ms"] == uncertain
    if saturated:
        assert summary["causes"][0].startswith(f"{100 * uncertain / 1100:.1f} % of items")


def test_kernel_stamps_keep_a_busy_generator_trustworthy() -> None:
    # CPU, loop lag and CPU wait far past the old thresholds: with kernel stamps the item times
    # are still right when no read mixed server writes, so the run stands.
    busy = HealthSamples(
        cpu_pct=[97.0] * 10,
        lag_ms=[30.0] * 100,
        cpu_wait_pct=[40.0] * 10,
        timings=kernel_timings(1000, 0),
    ).summary()
    assert busy["saturated"] is False
    assert busy["causes"] == []


def test_small_bounds_do_not_count_as_uncertain() -> None:
    summary = HealthSamples(timings=kernel_timings(100, 50, bound_s=0.0009)).summary()
    assert summary["error_bound"]["over_1ms"] == 0
    assert summary["saturated"] is False


@pytest.mark.parametrize(("lag_s", "saturated"), [(0.0015, False), (0.0021, True)])
def test_user_times_flag_a_run_by_its_delivery_lag(lag_s: float, saturated: bool) -> None:
    timings = ReadTimings(clock="user", items=100)
    timings.lag.record(lag_s, 100)
    summary = HealthSamples(cpu_pct=[5.0], lag_ms=[0.1], timings=timings).summary()
    assert summary["saturated"] is saturated


def test_idle_samples_are_not_saturated() -> None:
    summary = HealthSamples(cpu_pct=[20.0, 30.0, 40.0], lag_ms=[0.1] * 50 + [3.0]).summary()
    assert summary["samples"] == 3
    assert summary["cpu_pct_p50"] == 30.0
    assert summary["cpu_pct_max"] == 40.0
    assert summary["loop_lag_ms_p50"] == 0.1
    assert summary["loop_lag_ms_max"] == 3.0
    assert summary["saturated"] is False


@pytest.mark.parametrize(
    ("cpu", "saturated"),
    [
        ([50.0] * 9 + [95.0], False),  # p90 of 10 samples is the 9th smallest
        ([50.0] * 8 + [95.0] * 2, True),
        ([90.0] * 10, False),  # exactly at the threshold is not above it
        ([90.1] * 10, True),
    ],
)
def test_cpu_p90_above_90_is_saturated(cpu: list[float], saturated: bool) -> None:
    assert HealthSamples(cpu_pct=cpu, lag_ms=[0.0]).summary()["saturated"] is saturated


@pytest.mark.parametrize(
    ("lag", "saturated"),
    [
        ([1.0] * 99 + [50.0], False),  # one outlier in 100: p99 is still 1 ms
        ([1.0] * 98 + [50.0] * 2, True),
        ([4.0] * 100, False),
        ([4.001] * 100, True),
    ],
)
def test_lag_p99_above_4ms_is_saturated(lag: list[float], saturated: bool) -> None:
    summary = HealthSamples(cpu_pct=[5.0], lag_ms=lag).summary()
    assert summary["saturated"] is saturated
    assert summary["loop_lag_ms_max"] == max(lag)


@pytest.mark.parametrize("wait", [[0.5] * 10, [40.0] * 10, []])
def test_cpu_wait_alone_is_no_verdict(wait: list[float]) -> None:
    # Waiting for a CPU delays wake-ups, not the kernel's stamps: an explanation, not a verdict.
    for timings in (kernel_timings(100, 0), ReadTimings()):
        summary = HealthSamples(cpu_pct=[5.0], lag_ms=[0.1], cpu_wait_pct=wait, timings=timings)
        assert summary.summary()["saturated"] is False


def test_causes_give_the_reason_first_then_what_was_busy() -> None:
    calm = HealthSamples(cpu_pct=[10.0], lag_ms=[0.2], cpu_wait_pct=[0.0]).summary()
    assert saturation_causes(calm) == []
    busy = HealthSamples(
        cpu_pct=[97.0] * 10,
        lag_ms=[6.5] * 100,
        cpu_wait_pct=[12.0] * 10,
        timings=kernel_timings(100, 5),
    )
    assert saturation_causes(busy.summary()) == [
        (
            "5.0 % of items may be off by more than 1 ms (> 1 %): reads held bytes of several "
            "server writes"
        ),
        "CPU p90 97 %",
        "event-loop lag p99 6.5 ms",
        "waiting for a CPU 12.0 % of the time (p90): other processes had the CPUs",
    ]
    no_stamps = HealthSamples(cpu_pct=[97.0] * 10, lag_ms=[6.5] * 100, cpu_wait_pct=[12.0] * 10)
    assert saturation_causes(no_stamps.summary()) == [
        "event-loop lag p99 6.5 ms > 4 ms",
        "CPU p90 97 % > 90 %",
        "waiting for a CPU 12.0 % of the time (p90): other processes had the CPUs",
    ]


def test_empty_samples_summarise_to_zeros() -> None:
    summary = HealthSamples().summary()
    assert summary["samples"] == 0
    assert summary["cpu_pct_max"] == 0.0
    assert summary["loop_lag_ms_p99"] == 0.0
    assert summary["saturated"] is False


def test_merge_samples_pools_every_batch() -> None:
    parts = [
        HealthSamples([10.0], [1.0, 2.0], [0.5], kernel_timings(10, 1)),
        HealthSamples([95.0, 96.0], [30.0], timings=kernel_timings(20, 2)),
    ]
    merged = merge_samples(parts)
    assert merged.cpu_pct == [10.0, 95.0, 96.0]
    assert merged.lag_ms == [1.0, 2.0, 30.0]
    assert merged.cpu_wait_pct == [0.5]
    assert merged.timings.items == 30
    assert merged.timings.bound.total == 3
    assert merged.timings.clock == "kernel"
    assert merge_samples([]).summary() == HealthSamples().summary()


def run_monitor(monitor: HealthMonitor, seconds: float) -> None:
    monitor.start()
    monitor.start()  # idempotent: still one sampling greenlet
    gevent.sleep(seconds)
    monitor.stop()


def test_monitor_collects_samples_on_an_idle_loop() -> None:
    monitor = HealthMonitor(interval_s=0.1, lag_probe_s=0.02)
    run_monitor(monitor, 0.5)
    samples = monitor.samples
    # ~5 intervals in 0.5 s; a busy shared machine may delay the last ones.
    assert 3 <= len(samples.cpu_pct) <= 6
    assert len(samples.lag_ms) >= 3 * 5  # five 20 ms probes per interval
    assert all(lag >= 0.0 for lag in samples.lag_ms)
    # An idle loop mostly wakes on time (a loose bound: other processes share the CPUs).
    assert sorted(samples.lag_ms)[len(samples.lag_ms) // 2] < 10.0
    assert all(cpu >= 0.0 for cpu in samples.cpu_pct)
    # Sleeping costs next to no CPU, however busy the neighbours are.
    assert sorted(samples.cpu_pct)[len(samples.cpu_pct) // 2] < 20.0
    taken = monitor.take()
    assert taken is samples
    assert monitor.samples.cpu_pct == monitor.samples.lag_ms == []
    count = len(taken.lag_ms)
    gevent.sleep(0.15)
    assert len(taken.lag_ms) == count  # stopped: no more samples


def test_blocked_loop_shows_as_lag() -> None:
    monitor = HealthMonitor(interval_s=0.1, lag_probe_s=0.005)

    def hog() -> None:
        for _ in range(6):
            blocking_sleep(0.05)  # blocks the whole loop, as CPU-bound code in a user would
            gevent.sleep(0.03)

    monitor.start()
    gevent.sleep(0.02)
    hogger = gevent.spawn(hog)
    gevent.sleep(0.5)
    hogger.join(timeout=5)
    monitor.stop()
    summary = monitor.samples.summary()
    # A probe sleeping at most 5 ms when a 50 ms block starts wakes >= 45 ms late.
    assert summary["loop_lag_ms_max"] >= 40.0
    assert sum(lag >= 40.0 for lag in monitor.samples.lag_ms) >= 3
    assert summary["saturated"] is True


def test_busy_loop_shows_as_cpu_matching_the_process_clock() -> None:
    monitor = HealthMonitor(interval_s=0.1, lag_probe_s=0.01)

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            sum(range(2000))  # burn CPU in ~0.1 ms bites, yielding in between
            gevent.sleep(0)

    wall, cpu = time.perf_counter(), time.process_time()
    monitor.start()
    spinner = gevent.spawn(spin, 0.45)
    spinner.join(timeout=5)
    monitor.stop()
    # The oracle: this process's CPU share over the same time, from the same clocks.
    share = 100.0 * (time.process_time() - cpu) / (time.perf_counter() - wall)
    samples = monitor.samples.cpu_pct
    assert len(samples) >= 3
    # Alone the spin shows ~100 %; other processes on the 2 shared CPUs take some of it.
    assert share > 5.0
    assert sum(samples) / len(samples) == pytest.approx(share, abs=15.0)


HOG = "import time\nend = time.perf_counter() + {seconds}\nwhile time.perf_counter() < end: pass\n"


def test_sharing_a_cpu_with_a_busy_process_shows_as_cpu_wait() -> None:
    assert sys.platform.startswith("linux"), "flowload's CI runs on Linux, where schedstat exists"
    assert run_delay_s() is not None
    saved = os.sched_getaffinity(0)
    cpu = min(saved)
    monitor = HealthMonitor(interval_s=0.1, lag_probe_s=0.01)
    os.sched_setaffinity(0, {cpu})  # this process and a CPU hog on one CPU: they take turns
    try:
        hog = subprocess.Popen(
            [sys.executable, "-c", HOG.format(seconds=0.8)],
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),  # noqa: PLW1509 - affinity only
        )
        gevent.sleep(0.1)  # the hog is running
        waited, wall = run_delay_s() or 0.0, time.perf_counter()
        monitor.start()
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:  # stay runnable, so the scheduler has to make us wait
            sum(range(2000))
            gevent.sleep(0)
        monitor.stop()
        share = 100.0 * ((run_delay_s() or 0.0) - waited) / (time.perf_counter() - wall)
        hog.wait(timeout=10)
    finally:
        os.sched_setaffinity(0, saved)
    samples = monitor.samples.cpu_wait_pct
    assert len(samples) >= 3
    # Two runnable processes on one CPU: each waits about half the time.
    assert share > 20.0
    assert sum(samples) / len(samples) == pytest.approx(share, abs=15.0)
    assert any("waiting for a CPU" in c for c in explanations(monitor.samples.summary()))
