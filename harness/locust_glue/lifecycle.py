"""Locust event listeners: set up at init, start/stop each test, clean up at quit."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import signal
import time
from dataclasses import replace
from typing import Any

import gevent
from gevent import GreenletExit
from locust.exception import RPCError
from locust.runners import MasterRunner, WorkerRunner

from harness.capacity.load_plan import LoadPlan, load_plan
from harness.cli.exitcodes import EXIT_COULD_NOT_RUN
from harness.config import Scenario, apply_overrides, default_scenario, load_scenario, resolve_key
from harness.errors import ConfigError, FlowloadError
from harness.locust_glue.distributed import reset_worker_health
from harness.locust_glue.failfast import stop_locust
from harness.locust_glue.finish import final_report_wait_s, finalize
from harness.locust_glue.gating import GateSettings, gate_settings, start_abort_watch
from harness.locust_glue.options import GlueOptions, read_options, stop_timeout_given
from harness.locust_glue.simulator import start_embedded_simulator
from harness.locust_glue.state import (
    LOCAL,
    MASTER,
    WORKER,
    GlueState,
    WorkerView,
    attach,
    state_of,
)
from harness.results.paths import STREAMS_FILE, default_report_dir, prepare_report_dir
from harness.run.failfast import FailFast
from harness.run.resolve import needs_embedded_simulator, resolve_run
from harness.run.session import RunSession
from harness.stats.steps import StepTracker
from harness.transport import choose_clock

logger = logging.getLogger("flowload")

# Without --stop-timeout, a single process lets the streams in flight at the end of the run time
# finish: up to the server's limit plus this margin (the transport's response timeout margin).
STOP_MARGIN_S = 10.0


def _role(runner: Any) -> str:
    if isinstance(runner, MasterRunner):
        return MASTER
    if isinstance(runner, WorkerRunner):
        return WORKER
    return LOCAL


def load_run_scenario(options: GlueOptions) -> Scenario:
    """The scenario file (or the default) with the command-line overrides except --host."""
    scenario = load_scenario(options.flow_config) if options.flow_config else default_scenario()
    scenario = apply_overrides(
        scenario,
        envs=options.flow_env,
        api_key_mode=options.api_key_mode,
        stall_timeout_s=options.stall_timeout_s,
        limit_s=options.limit_s,
        insecure=options.insecure or None,
        proxy=options.proxy,
        client_cert=options.client_cert,
        client_key=options.client_key,
    )
    if options.ca_bundle is not None:
        if not options.ca_bundle.is_file():
            raise ConfigError(
                f"--ca-bundle: {options.ca_bundle} is not a file; give a PEM file of CA "
                "certificates (or leave it out to use the system's CAs)"
            )
        scenario = replace(scenario, ca_bundle=options.ca_bundle)
    return scenario


def _could_not_run(message: str) -> SystemExit:
    logger.error("flowload: %s", message)
    return SystemExit(EXIT_COULD_NOT_RUN)


def on_init(environment: Any, **_kw: Any) -> None:
    """Validate options and scenario before anything runs; start the simulator if needed."""
    role = _role(environment.runner)
    try:
        options = read_options(environment.parsed_options)
        choose_clock(options.timestamps)  # --timestamps kernel where refused: stop now
        scenario = load_run_scenario(options)
        # A malformed gate or unusable baseline stops here, before any load (exit 3).
        gates = gate_settings(environment.parsed_options, scenario) if role != WORKER else None
    except FlowloadError as exc:
        raise _could_not_run(str(exc)) from None
    state = GlueState(role=role, options=options, scenario=scenario, gates=gates or GateSettings())
    try:  # the load shape asks for the plan before the test starts
        state.plan = _capacity_plan(state, environment)
    except FlowloadError as exc:
        raise _could_not_run(str(exc)) from None
    attach(environment, state)
    if role != WORKER:
        _handle_interrupts(environment, state)
    if not scenario.verify_tls:
        logger.warning("flowload: --insecure: TLS certificates are NOT verified")
    if role != WORKER and needs_embedded_simulator(scenario, environment.host):
        try:
            key = resolve_key(scenario, scenario.envs[0].env)
            state.simulator = start_embedded_simulator(scenario, key)
        except FlowloadError as exc:
            raise _could_not_run(str(exc)) from None
        environment.host = state.simulator.url
    if role != WORKER:
        _check_target(state, environment)
    if role == LOCAL:
        _default_stop_timeout(state, environment)


def _check_target(state: GlueState, environment: Any) -> None:
    """Fail now, not at the first stream, when the target or keys are wrong."""
    try:
        resolved = resolve_run(
            state.scenario, environment.host, simulator=_embedded(state, environment.host)
        )
    except FlowloadError as exc:
        stop_simulator(state)
        raise _could_not_run(str(exc)) from None
    if resolved.simulator_like and state.simulator is None:
        logger.info(
            "flowload: %s is a flowload simulator (it answers /_flowload/stats): running its "
            "tenant, workspace and flows; for a Flow server on this host, give --flow-config "
            "with [target] tenant, workspace and [[flows]]",
            resolved.host,
        )


def _embedded(state: GlueState, host: str | None) -> bool | None:
    """True when ``host`` is this process's embedded simulator; None: let resolve_run decide."""
    return True if state.simulator is not None and host == state.simulator.url else None


def _default_stop_timeout(state: GlueState, environment: Any) -> None:
    """Without --stop-timeout, let the streams in flight at the end finish (single process).

    Locust's default (0) cuts them: they are not measured, and the longest streams are the
    likeliest to be cut. Capacity runs keep their own plan; an interrupt still cuts at once.
    """
    if state.plan is not None or stop_timeout_given(environment.parsed_options):
        return
    state.own_stop_timeout = True
    environment.stop_timeout = state.scenario.limit_s + STOP_MARGIN_S


def _handle_interrupts(environment: Any, state: GlueState) -> None:
    """Ctrl-C stops the test the way ``--run-time`` does, then Locust shuts down as usual.

    A KeyboardInterrupt lands in whichever greenlet happens to run when the signal arrives; a
    signal watcher on the event loop makes the first Ctrl-C always end in a written summary
    (marked interrupted). A second Ctrl-C exits at once.
    """

    def on_sigint() -> None:
        if state.interrupted:
            logger.error("flowload: interrupted again: exiting now")
            os._exit(130)
        state.interrupted = True
        cut_streams(state, environment)
        logger.warning(
            "flowload: interrupted: stopping the test and writing the summary "
            "(Ctrl-C again to exit at once)"
        )
        gevent.spawn(_stop_locust, environment)

    gevent.signal_handler(signal.SIGINT, on_sigint)


def cut_streams(state: GlueState, environment: Any) -> None:
    """Ctrl-C, SIGTERM, the web UI's STOP: stop at once, whatever flowload's default said."""
    if state.own_stop_timeout:
        environment.stop_timeout = 0.0


def _stop_locust(environment: Any) -> None:
    stop_locust(environment)


def on_test_start(environment: Any, **_kw: Any) -> None:
    """A new test: fresh session, report directory, the plan for this host."""
    state = state_of(environment)
    if state is None:
        return
    try:
        _start_test(state, environment)
    except FlowloadError as exc:
        _start_failed(state, environment, str(exc))
        return
    if state.setup_failed is not None:  # an earlier START in the web UI failed; this one runs
        state.setup_failed = None
        if environment.process_exit_code == EXIT_COULD_NOT_RUN:
            environment.process_exit_code = None
    if state.role != WORKER:
        start_abort_watch(environment, state, state.gates)


def _start_failed(state: GlueState, environment: Any, message: str) -> None:
    """A test that cannot start: headless, exit 3; in the web UI, stop it and show why.

    The web UI stays up (the Streaming tab shows the error) so a corrected START can run; the
    exit code is 3 only if the last START failed (see on_quitting).
    """
    state.setup_failed = message
    state.resolved = None
    logger.error("flowload: cannot start the test: %s", message)
    if environment.web_ui is None:
        environment.process_exit_code = EXIT_COULD_NOT_RUN
        environment.runner.quit()
        return
    gevent.spawn(environment.runner.stop)  # to "stopped": the tabs, and the error, show
    # This listener runs in the greenlet that would start the users (or, on a master, tell the
    # workers to) right after it: ending that greenlet here starts none. GreenletExit ends a
    # greenlet quietly (no traceback, no "unhandled exception" exit code).
    raise GreenletExit


def _start_test(state: GlueState, environment: Any) -> None:
    # Options may have changed in the web UI, or (on a worker) come from the master.
    state.options = read_options(environment.parsed_options)
    state.scenario = load_run_scenario(state.options)
    session = RunSession(worker=_worker_name(state, environment), keep_pending=state.role == WORKER)
    state.plan = _capacity_plan(state, environment)
    if state.plan is not None:
        session.steps = StepTracker(state.plan, session.started.timestamp())
        state.processes = _share_processes(state, environment)
    state.clock, state.clock_note = choose_clock(state.options.timestamps)
    state.fail_fast = FailFast()
    if state.role != MASTER:
        resolved = resolve_run(
            state.scenario, environment.host, simulator=_embedded(state, environment.host)
        )
        transport = replace(resolved.transport, timestamps=state.options.timestamps)
        state.resolved = replace(resolved, transport=transport)
        state.health.take()
        state.health.start()
    if state.role != WORKER:
        directory = state.options.report_dir or default_report_dir()
        state.report_dir = prepare_report_dir(directory)
        session.open_records(state.report_dir, STREAMS_FILE)
        logger.info("flowload: recording to %s", state.report_dir)
    if state.role == MASTER:
        # Every connected worker is expected to report: one that dies before its first report
        # must be named as lost, not silently forgotten.
        for client_id in getattr(environment.runner, "clients", {}):
            state.workers.setdefault(str(client_id), WorkerView())
    reset_worker_health(state.workers)  # a new test in the web UI: its own health samples
    for view in state.workers.values():
        view.running = True
    if state.own_stop_timeout:  # the limit may have changed in the web UI
        environment.stop_timeout = state.scenario.limit_s + STOP_MARGIN_S
    state.session = session
    # One instant for both clocks: the arrival timetable (perf_counter) and the step windows
    # (epoch, compared with each stream's started_at) must agree on when the test began.
    state.started_perf = time.perf_counter()
    session.started = dt.datetime.now(dt.UTC)
    state.started_wall = session.started.timestamp()
    if session.steps is not None:
        session.steps.started_at = state.started_wall
    state.stopped_perf = None
    state.test_running = True
    state.finalized = False
    state.max_users = 0


def _capacity_plan(state: GlueState, environment: Any) -> LoadPlan | None:
    """The load plan when the locustfile's users are capacity users, else None."""
    modes = {getattr(u, "capacity_mode", None) for u in environment.user_classes or []}
    modes.discard(None)
    if not modes:
        return None
    if len(modes) > 1:
        raise ConfigError("a capacity locustfile must use one capacity user class")
    plan = load_plan(state.scenario.capacity, quick=state.options.capacity_quick)
    if plan.mode is not modes.pop():
        raise ConfigError(
            f"[capacity] mode = {plan.mode.value!r} does not match this locustfile's user class; "
            "use locustfiles/capacity_stepped.py for stepped and capacity_arrival.py for arrival"
        )
    return plan


def _share_processes(state: GlueState, environment: Any) -> int:
    """How many processes share the arrival rate; the master tells its workers."""
    if state.role == MASTER:
        count = max(1, int(getattr(environment.runner, "worker_count", 1)))
        # Custom options travel to the workers with the spawn message that follows.
        environment.parsed_options.flow_processes = str(count)
        return count
    return state.options.processes or 1


def _worker_name(state: GlueState, environment: Any) -> str:
    if state.role == WORKER:
        return str(getattr(environment.runner, "client_id", "worker"))
    return "local"


def on_spawning_complete(user_count: int, **_kw: Any) -> None:
    """Remember the peak user count for the summary, and take the heap out of full GCs.

    Spawning leaves a large heap (users, greenlets, connections, Locust itself) that the cyclic
    GC would walk in one full collection soon after: a 30-40 ms pause of the whole event loop
    at 1,000 streams, which every stream measures as a late item. ``gc.freeze()`` (no
    collection first: no pause while streams run) moves it out of later collections; those
    then walk only the objects made since. Measured in docs/benchmarks.md, section 0.
    """
    for state in _all_states():
        state.max_users = max(state.max_users, int(user_count))
    gc.freeze()


def _all_states() -> list[GlueState]:
    from harness.locust_glue.state import _STATES  # noqa: PLC0415

    return list(_STATES.values())


def on_test_stopping(environment: Any, **_kw: Any) -> None:
    """Say why the run does not end at once: streams in flight get the stop timeout to end."""
    state = state_of(environment)
    if state is None or state.session is None or state.role != LOCAL:
        return
    in_flight = state.session.in_flight
    if in_flight and environment.stop_timeout:
        logger.info(
            "flowload: stopping: waiting up to %g s for %d stream(s) in flight to finish "
            "(--stop-timeout; Ctrl-C to cut them)",
            environment.stop_timeout,
            in_flight,
        )


def on_test_stop(environment: Any, **_kw: Any) -> None:
    """The test ended: stop sampling; the single process writes its summary now."""
    state = state_of(environment)
    if state is None or not state.test_running:
        return
    state.test_running = False
    state.stopped_perf = time.perf_counter()
    state.health.stop()
    if state.role == LOCAL:
        finalize(state, environment, interrupted=state.interrupted)
    elif state.role == MASTER:
        # Workers' final reports arrive after this event on the master: finish in the background.
        state.finalizer = gevent.spawn(finalize, state, environment, interrupted=state.interrupted)
    else:
        _send_final_report(environment)


def _send_final_report(environment: Any) -> None:
    """On a worker: report now that its users are stopped, not at the next 3-second tick.

    The master waits a few seconds for every worker's report marked not running; a busy worker
    whose next periodic report comes late would be named lost although it is alive.
    """
    send = getattr(environment.runner, "_send_stats", None)  # what Locust itself calls on quit
    if send is None:
        return
    try:
        send()
    except RPCError as exc:  # the periodic report will try again
        logger.warning("flowload: the final report could not be sent yet: %s", exc)


def on_quitting(environment: Any, **_kw: Any) -> None:
    """Locust is exiting: make sure the last test is written, even when interrupted."""
    state = state_of(environment)
    if state is None:
        return
    cut_streams(state, environment)  # SIGTERM: Locust stops the users after this event
    if state.finalizer is not None:  # the master's summary and gate verdicts decide the exit code
        state.finalizer.join(timeout=final_report_wait_s(environment) + 10.0)
        state.finalizer = None
    interrupted = state.test_running or state.interrupted
    if state.test_running:
        state.test_running = False
        state.stopped_perf = time.perf_counter()
    finalize(state, environment, interrupted=interrupted)
    if environment.process_exit_code is None and state.setup_failed:
        environment.process_exit_code = EXIT_COULD_NOT_RUN


def on_quit(**_kw: Any) -> None:
    """After quitting: stop the embedded simulator of every environment."""
    for state in _all_states():
        stop_simulator(state)


def stop_simulator(state: GlueState) -> None:
    """Stop the embedded simulator, if this process started one."""
    if state.simulator is not None:
        state.simulator.stop()
        state.simulator = None
