"""FlowStreamUser: one stream per task through transport → reader → measure, then recorded."""

from __future__ import annotations

import itertools
import random
from typing import Any

import gevent
from gevent import GreenletExit
from locust import User, constant, task

from harness.locust_glue.failfast import observe_failure
from harness.locust_glue.state import state_of
from harness.results.stream import Outcome, StreamResult
from harness.run.measure import measure_stream
from harness.run.request_mix import PlanCursor
from harness.transport import HttpClient

_USER_INDEX = itertools.count()
_STRIDE = 7  # prime: consecutive users start well apart in the sequence
BACKOFF_BASE_S = 0.5  # the first pause after a stream that failed before its first item
MAX_RETRY_AFTER_S = 300.0  # a server's Retry-After is honoured up to this


class StreamError(Exception):
    """What Locust's failure table shows for a stream that did not end ``ok`` (no secrets)."""


def _failure(result: StreamResult) -> StreamError | None:
    if result.outcome is Outcome.OK:
        return None
    detail = f": {result.error}" if result.error else ""
    return StreamError(f"{result.outcome.value}{detail}")


class FlowStreamUser(User):
    """Runs streams back to back, each picked by the scenario's env and flow weights."""

    wait_time = constant(0)
    # Closed-loop users spread their first stream over --flow-spawn-spread; a user with its own
    # timetable (the arrival-rate user) sets this False.
    spread_first_stream = True
    # After a stream that failed before its first item, closed-loop users pause (0.5 s doubling
    # up to --flow-failure-backoff, with jitter, reset by a good stream; Retry-After honoured):
    # a failing target is not hit in a tight loop. The arrival-rate user's timetable decides.
    backoff_on_failure = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._client: HttpClient | None = None
        self._rng = random.Random()  # noqa: S311 - spreading arrivals, not cryptography
        self._index = next(_USER_INDEX)
        self._cursor: PlanCursor | None = None
        self._failures = 0  # streams in a row that failed before their first item

    def on_start(self) -> None:
        """Open this user's connection pool, then wait a random part of the spawn spread.

        Locust starts each second's new users at the same instant. Streams started together end
        together and restart together when they have equal lengths: the load would stay in
        bursts, with every burst's work landing on the event loop at once. A uniform delay in
        ``[0, spread)`` gives the target the ramp's rate, not its batches.
        """
        state = state_of(self.environment)
        if state is None or state.resolved is None:
            return
        self._client = HttpClient(state.resolved.transport)
        spread = state.options.spawn_spread_s
        if self.spread_first_stream and spread > 0:
            gevent.sleep(self._rng.uniform(0.0, spread))

    def on_stop(self) -> None:
        """Close this user's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @task
    def stream(self) -> None:
        """Run one stream and record it."""
        self.run_stream()

    def run_stream(self, intended_start: float | None = None) -> None:
        """Run one stream (timed from ``intended_start`` in open-loop mode) and record it."""
        state = state_of(self.environment)
        if state is None or state.resolved is None or state.session is None:
            raise RuntimeError("flowload is not set up: was harness.locust_glue.install() called?")
        if self._client is None:
            self._client = HttpClient(state.resolved.transport)
        if self._cursor is None:
            # Users start at different places of the plan's weighted round robin: even a short
            # run with few users covers every env and flow.
            self._cursor = state.resolved.plan.cursor(self._index * _STRIDE)
        target = self._cursor.next()
        env, flow = target.env.value, target.flow.name
        session = state.session
        session.in_flight += 1
        session.in_flight_by_env[env] += 1
        try:
            result = measure_stream(
                self._client,
                target.request,
                env=env,
                flow=flow,
                limits=state.resolved.limits,
                make_reader=target.new_reader,
                intended_start=intended_start,
            )
        except GreenletExit:
            # The test stopped mid-stream: counted as cancelled, never as a measurement.
            session.cancel(env, flow)
            if state.role == "worker":
                state.cancelled_delta[(env, flow)] += 1
            raise
        finally:
            session.in_flight -= 1
            session.in_flight_by_env[env] -= 1
        record = session.record(result)
        self._fire_locust_events(target.label, result)
        observe_failure(self.environment, state, record)
        self._pause_after(result, state.options.failure_backoff_s)

    def _pause_after(self, result: StreamResult, cap_s: float) -> None:
        """Back off after streams that failed before their first item (see backoff_on_failure)."""
        if result.ok or result.items:
            self._failures = 0
            return
        if not self.backoff_on_failure or cap_s <= 0:
            return
        self._failures += 1
        delay = min(cap_s, BACKOFF_BASE_S * 2 ** (self._failures - 1))
        delay *= self._rng.uniform(0.5, 1.0)
        if result.retry_after_s:
            delay = max(delay, min(result.retry_after_s, MAX_RETRY_AFTER_S))
        gevent.sleep(delay)

    def _fire_locust_events(self, name: str, result: StreamResult) -> None:
        """One Locust request per stream: its whole duration, bytes and (failed) outcome.

        Locust's statistics count requests, so a stream is exactly one: its request rate is the
        stream rate and its failure share the share of streams that failed. TTFI and ITL are
        flowload's own views (the Streaming tab, the console table, the reports); listeners
        find the whole result in ``context["result"]``.
        """
        self.environment.events.request.fire(
            request_type="STREAM",
            name=name,
            response_time=result.duration_s * 1000.0,
            response_length=result.bytes,
            exception=_failure(result),
            context={"job_id": result.job_id, "outcome": result.outcome.value, "result": result},
        )
