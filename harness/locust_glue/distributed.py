"""Worker → master: stats deltas, raw records, cancellations and health ride Locust's reports."""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.exception import RPCError

from harness.errors import FlowloadError
from harness.locust_glue.failfast import observe_failure
from harness.locust_glue.state import MASTER, WORKER, WorkerView, state_of
from harness.run.health import HealthSamples
from harness.transport import ReadTimings

logger = logging.getLogger("flowload")

REPORT_KEY = "flowload"


def make_report_to_master_listener(environment: Any) -> Any:
    """On a worker: attach what was recorded since the last report (then forget it)."""

    def on_report_to_master(data: dict[str, Any], **_kw: Any) -> None:
        state = state_of(environment)
        if state is None or state.role != WORKER or state.session is None:
            return
        session = state.session
        records, session.pending_records = session.pending_records, []
        cancelled = [[env, flow, n] for (env, flow), n in state.cancelled_delta.items()]
        state.cancelled_delta.clear()
        health = state.health.take()
        data[REPORT_KEY] = {
            "delta": session.recorder.take_delta(),
            "records": records,
            "cancelled": cancelled,
            "cpu_pct": health.cpu_pct,
            "lag_ms": health.lag_ms,
            "cpu_wait_pct": health.cpu_wait_pct,
            "timings": health.timings.to_json(),
            "clock_note": state.clock_note,
            "running": state.test_running,
            "steps": session.steps.take_delta() if session.steps is not None else None,
        }

    return on_report_to_master


def make_worker_report_listener(environment: Any) -> Any:
    """On the master: merge each worker's part into the master's session."""

    def on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        state = state_of(environment)
        part = data.get(REPORT_KEY)
        if state is None or state.role != MASTER or not isinstance(part, dict):
            return
        view = state.workers.setdefault(client_id, WorkerView())
        view.last_report = time.perf_counter()
        view.running = bool(part.get("running"))
        view.health.cpu_pct.extend(part.get("cpu_pct", []))
        view.health.lag_ms.extend(part.get("lag_ms", []))
        view.health.cpu_wait_pct.extend(part.get("cpu_wait_pct", []))
        if part.get("clock_note"):
            view.clock_note = str(part["clock_note"])
        if isinstance(part.get("timings"), dict):
            view.health.timings.merge(ReadTimings.from_json(part["timings"]))
        session = state.session
        if session is None:
            return
        try:
            session.recorder.merge_delta(part["delta"])
        except (FlowloadError, KeyError) as exc:
            logger.error(
                "flowload: a report from worker %s could not be merged: %s", client_id, exc
            )
            return
        records = part.get("records") or []
        if session.writer is not None and records:
            session.writer.write_many(records)
        session.note(records)
        for record in records:
            observe_failure(environment, state, record)
        if session.steps is not None and part.get("steps"):
            session.steps.merge_delta(part["steps"])
        for env, flow, count in part.get("cancelled", []):
            session.cancelled[(str(env), str(flow))] += int(count)

    return on_worker_report


def reset_worker_health(state_workers: dict[str, WorkerView]) -> None:
    """Forget the health samples of a previous test."""
    for view in state_workers.values():
        view.health = HealthSamples()


def receive_late_report(environment: Any, timeout_s: float) -> bool:
    """On a master whose Locust receiver has stopped: take one worker message off the wire.

    A headless run ends with ``runner.quit()``: it tells the workers to quit, waits 0.5 s for
    their last reports, then stops receiving. A busy worker (a saturated CPU, a loop that lags)
    sends its last report later than that; without this it would count as lost, its final
    streams missing. A ``stats`` message is handed to the ``worker_report`` listeners, as Locust
    would have; others are dropped. Returns False (and waits for nothing) while Locust's own
    receiver still runs.
    """
    runner = environment.runner
    greenlets, server = getattr(runner, "greenlet", None), getattr(runner, "server", None)
    if greenlets is None or server is None or len(greenlets) > 0:
        return False
    try:
        with gevent.Timeout(timeout_s, False):
            _client, msg = server.recv_from_client()
            if msg.type == "stats":
                environment.events.worker_report.fire(client_id=msg.node_id, data=msg.data)
    except RPCError as exc:
        logger.debug("flowload: a late worker message could not be read: %s", exc)
    return True
