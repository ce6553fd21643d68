"""Capacity load modes for Locust: stepped concurrency (a shape) and open-loop arrival rate.

Locust has no arrival-rate executor (k6 has): :class:`ArrivalFlowUser` is one scheduler per
process that starts streams on a fixed timetable, whatever earlier streams are doing, up to an
in-flight cap; each stream is timed from its *intended* start, and arrivals that could not start
are counted as dropped. With N processes (workers) each takes 1/N of the rate.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from gevent.pool import Pool
from locust import LoadTestShape, task

from harness.capacity.load_plan import LoadMode, LoadPlan
from harness.errors import ConfigError
from harness.locust_glue.state import MASTER, GlueState, state_of
from harness.locust_glue.user import FlowStreamUser

DRAIN_S = 5.0  # after the last step: no new streams, in-flight ones may finish


def _plan(environment: Any) -> LoadPlan:
    state = state_of(environment)
    if state is None or state.plan is None:
        raise ConfigError("flowload capacity: no load plan; was install() called?")
    return state.plan


def _elapsed(shape: LoadTestShape) -> float:
    return float(shape.get_run_time())  # type: ignore[no-untyped-call]


def _runner(shape: LoadTestShape) -> Any:
    if shape.runner is None:
        raise ConfigError("flowload capacity: the load shape has no runner yet")
    return shape.runner


class SteppedShape(LoadTestShape):
    """Users per the plan's steps, each ``step_s`` long; stops after the last step's drain."""

    def tick(self) -> tuple[int, float] | None:
        """Tell Locust how many users to run now (it asks every second)."""
        plan = _plan(_runner(self).environment)
        elapsed = _elapsed(self)
        index = plan.step_at(elapsed)
        if index is None:
            # Drain: the last step's streams finish; streams started now count in no step.
            if elapsed >= plan.duration_s + DRAIN_S:
                return None
            index = len(plan.steps) - 1
        return int(plan.steps[index]), plan.spawn_rate


class ArrivalShape(LoadTestShape):
    """One arrival scheduler per process for the plan's duration, plus a drain period."""

    def tick(self) -> tuple[int, float] | None:
        """One user per process while the plan (and its drain) runs."""
        runner = _runner(self)
        plan = _plan(runner.environment)
        if _elapsed(self) >= plan.duration_s + DRAIN_S:
            return None
        processes = _processes(runner, state_of(runner.environment))
        return processes, float(processes)


def _processes(runner: Any, state: GlueState | None) -> int:
    if state is not None and state.role == MASTER:
        return max(1, int(getattr(runner, "worker_count", 1)))
    return 1


class SteppedFlowUser(FlowStreamUser):
    """A closed-loop user for stepped capacity runs (streams back to back)."""

    capacity_mode = LoadMode.STEPPED


class ArrivalFlowUser(FlowStreamUser):
    """Starts streams on the plan's timetable (this process's share of the rate)."""

    capacity_mode = LoadMode.ARRIVAL
    spread_first_stream = False  # the timetable decides when streams start
    backoff_on_failure = False  # ... and when they start again after a failure

    @task
    def stream(self) -> None:
        """Run the whole timetable, then idle until the test stops."""
        state = state_of(self.environment)
        if state is None or state.plan is None or state.session is None:
            raise ConfigError("flowload capacity: no load plan; was install() called?")
        self._run_timetable(state, state.plan)
        gevent.sleep(DRAIN_S + 3600.0)  # the shape stops the test; never start another run

    def _run_timetable(self, state: GlueState, plan: LoadPlan) -> None:
        share = 1.0 / max(1, state.processes)
        pool = Pool(max(1, int(plan.max_in_flight * share)))
        t0, wall0 = state.started_perf, state.started_wall
        tracker = state.session.steps if state.session else None
        phase = self._rng.random()  # spreads the processes' arrivals apart
        for index, rate in enumerate(plan.steps):
            interval = 1.0 / (rate * share)
            offset, end = index * plan.step_s + phase * interval, (index + 1) * plan.step_s
            while offset < end:
                delay = t0 + offset - time.perf_counter()
                if delay > 0:
                    gevent.sleep(delay)
                if pool.full():
                    if tracker is not None:
                        tracker.drop(wall0 + offset)
                else:
                    pool.spawn(self.run_stream, t0 + offset)
                offset += interval
        pool.join(timeout=DRAIN_S)
