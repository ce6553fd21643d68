"""harness.transport._loopwatch: what each loop iteration tells a woken reader."""

from __future__ import annotations

import math
import time

import gevent
import gevent.monkey

from harness.transport._loopwatch import LoopWatch

blocking_sleep = gevent.monkey.get_original("time", "sleep")


def test_each_iteration_publishes_its_poll_times_and_cpu_wait() -> None:
    watch = LoopWatch(gevent.get_hub().loop)
    try:
        for _ in range(3):  # a new watch: let a few iterations pass through it
            gevent.sleep(0.001)
        before = time.perf_counter()
        gevent.sleep(0.001)
        gevent.sleep(0.02)  # the loop polls, sleeping until the timer
        state = watch.state
        assert before <= state.prev_prepared <= state.prepared <= state.polled
        assert state.polled - state.prepared > 0.01  # that poll slept for the timer
        assert 0.0 <= state.cpu_wait_s < 0.02  # schedstat (Linux): a finite, small CPU wait
        blocking_sleep(0.03)  # busy between two polls, inside one iteration
        gevent.sleep(0.001)
        busy = watch.state
        assert busy.prev_prepared < busy.prepared
        assert busy.prepared - busy.prev_prepared >= 0.03
    finally:
        watch.close()


def test_a_closed_watch_publishes_no_more() -> None:
    watch = LoopWatch(gevent.get_hub().loop)
    gevent.sleep(0.001)
    watch.close()
    state = watch.state
    gevent.sleep(0.005)
    assert watch.state is state
    assert math.isfinite(state.polled)
