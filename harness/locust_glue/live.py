"""Feeding the live view: finished streams, workers' deltas and streams in flight, sampled.

Every process: a worker adds its streams in flight per env to its reports. With a web UI (a
single process or the master): a :class:`~harness.locust_glue.live_view.LiveView` fed by each
stream's Locust request event (single process) or each worker's stats delta (master), sampled
every ``SAMPLE_S`` while a test runs, and reset with Locust's statistics (RESET) and at each
new test.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from typing import Any

import gevent

from harness.errors import FlowloadError
from harness.locust_glue.distributed import REPORT_KEY as STATS_KEY
from harness.locust_glue.live_view import SAMPLE_S, LiveView
from harness.locust_glue.state import MASTER, WORKER, GlueState, state_of
from harness.results.stream import StreamResult

logger = logging.getLogger("flowload")

REPORT_KEY = "flowload_live"
STALE_WORKER_S = 10.0  # a worker silent this long no longer counts streams in flight

_VIEWS: weakref.WeakKeyDictionary[Any, LiveView] = weakref.WeakKeyDictionary()


def view_of(environment: Any) -> LiveView | None:
    """The live view of ``environment`` (only where a web UI runs)."""
    return _VIEWS.get(environment)


def install_live(environment: Any, *, web_ui: bool) -> None:
    """Register the listeners; with ``web_ui``, create the view and start its sampler."""
    events = environment.events
    events.report_to_master.add_listener(_make_report_listener(environment))
    if not web_ui:
        return
    view = _VIEWS[environment] = LiveView()
    workers: dict[str, tuple[float, Counter[str]]] = {}
    events.request.add_listener(_make_request_listener(environment, view))
    events.worker_report.add_listener(_make_worker_listener(environment, view, workers))
    events.reset_stats.add_listener(lambda **_kw: reset_view(environment))
    events.test_start.add_listener(lambda **_kw: reset_view(environment))
    events.test_stop.add_listener(lambda **_kw: _last_sample(view))
    gevent.spawn(_sample_forever, environment, view, workers)


def reset_view(environment: Any) -> None:
    """Start the view afresh (RESET in the web UI, or a new test)."""
    view = view_of(environment)
    state = state_of(environment)
    if view is None:
        return
    envs = [e.env.value for e in state.scenario.envs] if state is not None else []
    view.reset(time.perf_counter(), envs, running=state is not None and state.test_running)


def _make_report_listener(environment: Any) -> Any:
    def on_report_to_master(data: dict[str, Any], **_kw: Any) -> None:
        state = state_of(environment)
        if state is None or state.role != WORKER or state.session is None:
            return
        in_flight = {env: n for env, n in state.session.in_flight_by_env.items() if n}
        data[REPORT_KEY] = {"in_flight": in_flight}

    return on_report_to_master


def _make_request_listener(environment: Any, view: LiveView) -> Any:
    def on_request(context: Any = None, **_kw: Any) -> None:
        result = context.get("result") if isinstance(context, dict) else None
        state = state_of(environment)
        if isinstance(result, StreamResult) and _recording(state):
            view.record(result)

    return on_request


def _recording(state: GlueState | None) -> bool:
    """True while the current test's streams are recorded (as the run's summary counts them)."""
    return state is not None and state.session is not None and not state.session.closed


def _make_worker_listener(
    environment: Any, view: LiveView, workers: dict[str, tuple[float, Counter[str]]]
) -> Any:
    def on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        state = state_of(environment)
        if state is None or state.role != MASTER:
            return
        live = data.get(REPORT_KEY)
        if isinstance(live, dict):
            flights = live.get("in_flight") or {}
            workers[client_id] = (time.perf_counter(), Counter(flights))
        part = data.get(STATS_KEY)
        # Workers' last reports come after the test stopped: they count until the summary is out.
        if not isinstance(part, dict) or "delta" not in part or not _recording(state):
            return
        try:
            view.merge_delta(part["delta"])
        except FlowloadError as exc:  # the run's own merge logs it; the view just skips it
            logger.debug("flowload: live view skipped a report from %s: %s", client_id, exc)

    return on_worker_report


def in_flight_now(environment: Any, workers: dict[str, tuple[float, Counter[str]]]) -> Counter[str]:
    """Streams in flight per env: this process's, or the sum of the workers' last reports."""
    state = state_of(environment)
    if state is None:
        return Counter()
    if state.role != MASTER:
        session = state.session
        return Counter(session.in_flight_by_env) if session is not None else Counter()
    total: Counter[str] = Counter()
    fresh = time.perf_counter() - STALE_WORKER_S
    for reported_at, flights in workers.values():
        if reported_at >= fresh:
            total.update(flights)
    return total


def _sample_forever(
    environment: Any, view: LiveView, workers: dict[str, tuple[float, Counter[str]]]
) -> None:
    """Sample while a test runs, for as long as the process lives (a web UI's lifetime)."""
    while True:
        gevent.sleep(SAMPLE_S)
        state = state_of(environment)
        if state is not None and state.test_running:
            _sample(view, in_flight_now(environment, workers))


def _last_sample(view: LiveView) -> None:
    """When a test stops: its last point, with no stream in flight (if it ran at all)."""
    if view.running:
        _sample(view, {})
        view.running = False


def _sample(view: LiveView, in_flight: Mapping[str, int]) -> None:
    try:
        view.sample(time.perf_counter(), in_flight)
    except FlowloadError as exc:
        logger.warning("flowload: the Streaming tab skipped a sample: %s", exc)
