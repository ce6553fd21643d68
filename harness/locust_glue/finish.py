"""End of a test: merge, write summary.json, print the table, mark what cannot be trusted."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections import Counter
from typing import Any

import gevent
import locust

import harness
from harness.cli.exitcodes import EXIT_COULD_NOT_RUN
from harness.errors import FlowloadError
from harness.locust_glue.distributed import receive_late_report
from harness.locust_glue.gating import finish_gates, print_gates
from harness.locust_glue.state import LOCAL, MASTER, GlueState
from harness.report.run.console import format_summary_table
from harness.results.paths import SUMMARY_FILE
from harness.results.summary import RunInfo, build_summary, write_summary
from harness.run.health import saturation_causes
from harness.transport import ReadTimings

logger = logging.getLogger("flowload")

FINAL_REPORT_WAIT_S = 5.0


def final_report_wait_s(environment: Any) -> float:
    """How long the master waits for the workers' last reports.

    Told to quit, a worker first lets its streams finish for up to ``--stop-timeout`` seconds,
    then reports: those streams count, so the wait covers the stop timeout too.
    """
    stop_timeout = getattr(environment, "stop_timeout", None) or 0.0
    return FINAL_REPORT_WAIT_S + max(0.0, float(stop_timeout))


def wait_for_final_reports(
    state: GlueState, environment: Any = None, timeout_s: float | None = None
) -> list[str]:
    """On the master: wait until every worker reported after its test stopped; return the lost."""
    if timeout_s is None:
        timeout_s = final_report_wait_s(environment)
    deadline = time.perf_counter() + timeout_s
    while (left := deadline - time.perf_counter()) > 0:
        if all(not view.running for view in state.workers.values()):
            return []
        if environment is None or not receive_late_report(environment, min(left, 0.1)):
            gevent.sleep(0.1)
    return sorted(wid for wid, view in state.workers.items() if view.running)


def _generator(state: GlueState) -> tuple[dict[str, Any], bool, ReadTimings]:
    """Health per process, the verdict, and the read timings of every process together."""
    if state.role == MASTER:
        per_worker = {wid: view.health.summary() for wid, view in state.workers.items()}
        saturated = any(s["saturated"] for s in per_worker.values())
        timings = ReadTimings()
        for view in state.workers.values():
            timings.merge(view.health.timings)
        return {"workers": per_worker, "saturated": saturated}, saturated, timings
    samples = state.health.collect()
    summary = samples.summary()
    local = {"local": summary, "saturated": summary["saturated"]}
    return local, bool(summary["saturated"]), samples.timings


def _clock(state: GlueState, timings: ReadTimings) -> dict[str, Any]:
    """The ``run.clock`` section: the clock item times used, the one asked for, and why."""
    notes = {view.clock_note for view in state.workers.values() if view.clock_note}
    if state.clock_note:
        notes.add(state.clock_note)
    used = timings.clock if not timings.empty else state.clock
    return {
        "used": used,
        "requested": state.options.timestamps,
        "note": "; ".join(sorted(notes)) or None,
    }


def _causes(generator: dict[str, Any]) -> str:
    """The saturation causes of the local process or of each worker, as one phrase."""
    if "local" in generator:
        return "; ".join(saturation_causes(generator["local"]))
    return "; ".join(
        f"{wid}: {', '.join(saturation_causes(summary))}"
        for wid, summary in generator.get("workers", {}).items()
        if summary.get("saturated")
    )


def finalize(state: GlueState, environment: Any, *, interrupted: bool = False) -> None:
    """Write summary.json for the current test and print the console table (once per test)."""
    if state.finalized or state.session is None or state.role not in (LOCAL, MASTER):
        return
    state.finalized = True
    lost = wait_for_final_reports(state, environment) if state.role == MASTER else []
    if state.stopped_perf is None:
        state.stopped_perf = time.perf_counter()
    generator, saturated, timings = _generator(state)
    session = state.session
    run = RunInfo(
        started=session.started,
        ended=dt.datetime.now(dt.UTC),
        duration_s=state.elapsed_s(),
        host=state.resolved.host if state.resolved else _display_host(state, environment),
        users=state.max_users or None,
        workers=len(state.workers) if state.role == MASTER else 1,
        locust_version=locust.__version__,
        harness_version=harness.__version__,
        mode="arrival"
        if state.plan is not None and state.plan.mode.value == "arrival"
        else "closed",
        limit_s=state.scenario.limit_s,
        generator=generator,
        generator_saturated=saturated,
        clock=_clock(state, timings),
        error_bound=timings.summary(),
        redirects=_redirects(session.redirect_targets),
        stopped_early=state.setup_failed,
        interrupted=interrupted,
        degraded=bool(lost),
        lost_workers=lost,
        # Streams still in flight (an interrupted run finishes before its users are stopped).
        cancelled_streams=sum(session.cancelled.values()) + session.in_flight,
        embedded_simulator=state.simulator is not None,
        scenario=str(state.options.flow_config) if state.options.flow_config else None,
    )
    steps = session.steps.summary_steps() if session.steps is not None else None
    summary = build_summary(run, session.recorder, steps=steps)
    session.close()
    # Before summary.json and summary.md: they carry the verdicts (and junit.xml is written).
    gates = finish_gates(summary, state.gates, state.report_dir)
    if state.report_dir is not None:
        write_summary(state.report_dir / SUMMARY_FILE, summary)
        _write_reports(state)
    _print_end_of_run(state, summary)
    print_gates(gates)
    if gates is not None and environment.process_exit_code != EXIT_COULD_NOT_RUN:
        environment.process_exit_code = gates.exit_code  # the last test's gates decide


def _write_reports(state: GlueState) -> None:
    """report.html, summary.md, stats.csv; a failure here never touches the raw records."""
    if state.report_dir is None:
        return
    try:
        from harness.report import write_reports  # noqa: PLC0415 - matplotlib loads only here

        write_reports(state.report_dir)
    except Exception as exc:  # noqa: BLE001 - reports are derived; a bug there must not cost the run
        reason = str(exc) if isinstance(exc, FlowloadError) else f"{type(exc).__name__}: {exc}"
        logger.warning(
            "flowload: the HTML/Markdown report could not be written (%s); summary.json and "
            "streams.jsonl are intact: rebuild with 'flowload report %s'",
            reason,
            state.report_dir,
        )


def _display_host(state: GlueState, environment: Any) -> str:
    """The target without secrets; a master resolves no plan, so ask the scenario too."""
    from harness.secrets import redact_url  # noqa: PLC0415

    host = str(environment.host or "")
    if not host and state.scenario.target is not None:
        host = state.scenario.target.target.base_url
    return redact_url(host)


def _redirects(targets: Counter[str]) -> dict[str, Any]:
    """``run.redirects``: how many streams were redirected, and the most frequent targets."""
    if not targets:
        return {}
    return {"streams": sum(targets.values()), "to": dict(targets.most_common(5))}


def notes_lines(summary: dict[str, Any]) -> list[str]:
    """Warnings about what intermediaries did: redirects, buffered bodies, re-sent requests."""
    lines = []
    redirects = summary["run"].get("redirects") or {}
    if redirects.get("streams"):
        where = ", ".join(f"{url} ({n})" for url, n in redirects["to"].items())
        lines.append(
            f"WARNING: {redirects['streams']} stream(s) were redirected, to {where}: TTFB and "
            "TTFI include the redirect; point the load test at the final URL"
        )
    for block in summary.get("by_env_flow", []):
        ok = block["outcomes"].get("ok", 0)
        buffered = block.get("buffered_streams", 0)
        if ok and buffered * 2 >= ok:
            lines.append(
                f"WARNING: {block['env']}/{block['flow']}: {buffered} of {ok} ok streams got "
                "all their items in one or two reads, long after the request: something between "
                "(a buffering proxy, gzip, a CDN) held the body back; their ITL of 0 ms is not "
                "a fast server"
            )
    resent = summary["overall"].get("resent_streams", 0)
    if resent:
        lines.append(
            f"{resent} request(s) were sent again on a new connection: their first write to a "
            "reused keep-alive connection failed, so the server provably never got them"
        )
    return lines


def clock_line(run: dict[str, Any]) -> str:
    """One line on how true the item times are: the clock, the error bound, the lag."""
    clock = run.get("clock") or {}
    bound = run.get("error_bound") or {}
    used = clock.get("used", "user")
    lag = bound.get("delivery_lag_p99_ms")
    lag_text = f"; delivery lag p99 {lag:.2f} ms" if lag is not None else ""
    if used == "kernel":
        items = int(bound.get("items") or 0)
        line = (
            f"item times: kernel receive stamps; {bound.get('over_1ms', 0)} of {items:,} items "
            f"({bound.get('over_1ms_pct', 0.0):.2f} %) may be off by more than 1 ms{lag_text}"
        )
    else:
        why = f" ({clock['note']})" if clock.get("note") else ""
        line = f"item times: {used}-space receipt{why}{lag_text}"
    return line


def _print_end_of_run(state: GlueState, summary: dict[str, Any]) -> None:
    run = summary["run"]
    lines = ["", format_summary_table(summary), clock_line(run), *notes_lines(summary)]
    if run["cancelled_streams"]:
        lines.append(
            f"{run['cancelled_streams']} stream(s) were still running when the test stopped: "
            "not measured (give --stop-timeout to let them finish)"
        )
    if run["generator_saturated"]:
        lines.append(
            f"WARNING: the item times cannot be trusted to ~2 ms ({_causes(run['generator'])}): "
            "the latencies above describe the harness, not only the server. Use fewer users "
            "per process, add workers (--processes / --worker), or keep other busy processes "
            "(the server too) off the generator's CPUs."
        )
    if run["lost_workers"]:
        lines.append(f"WARNING: worker(s) lost before their final report: {run['lost_workers']}")
    if state.report_dir is not None:
        lines.append(f"flowload: reports in {state.report_dir}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
