"""Gates in a Locust run: options, startup parsing, abort-on-fail watch, end-of-run verdicts.

The run lifecycle (``lifecycle.py``) calls, in this order:

- :func:`add_gate_options` from the parser hook (adds ``--gate``, ``--baseline``,
  ``--gate-min-streams``, ``--gate-alpha``, ``--gate-allow-partial``);
- :func:`gate_settings` at init on the master / single process (a bad gate, a missing baseline
  or a baseline without ``streams.jsonl`` for a ``significant`` gate raises a ConfigError then,
  never at the end of a long run);
- :func:`start_abort_watch` at each test start (no-op unless a gate has ``abort_on_fail``);
- :func:`finish_gates` once the summary of a test is built and *before* summary.json and
  summary.md are written: verdicts into ``summary["gates"]``, ``junit.xml``; returns the exit
  code and the console block, which :func:`print_gates` prints after the summary table.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent

from harness.errors import FlowloadError
from harness.gates import (
    DEFAULT_MIN_STREAMS,
    FAILED,
    Gate,
    Verdict,
    evaluate_gates,
    exit_code_for,
    format_gates,
    write_junit,
)
from harness.gates.evaluate import DEFAULT_ALPHA
from harness.gates.settings import (
    AbortRecord,
    GateSettings,
    build_settings,
    judge_run,
    parse_alpha,
    parse_min_streams,
)
from harness.results.paths import STREAMS_FILE
from harness.results.records import read_records

if TYPE_CHECKING:
    from harness.config import Scenario
    from harness.locust_glue.state import GlueState

logger = logging.getLogger("flowload")

ABORT_CHECK_INTERVAL_S = 1.0

__all__ = [
    "ABORT_CHECK_INTERVAL_S",
    "GateOutcome",
    "GateSettings",
    "add_gate_options",
    "finish_gates",
    "gate_settings",
    "live_summary",
    "print_gates",
    "start_abort_watch",
]


def add_gate_options(parser: Any) -> None:
    """Add ``--gate``, ``--baseline`` and the ``--gate-*`` options to Locust's parser."""
    parser.add_argument(
        "--gate",
        action="append",
        default=None,
        metavar="EXPR",
        help="a performance gate, repeatable: 'ttfi.p95 < 800ms', 'Production: error_rate < 1%%', "
        "'Production/orders: itl.p99 <= 250ms' (added to the scenario's [[gates]])",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--baseline",
        env_var="LOCUST_BASELINE",
        default=None,
        metavar="PATH",
        help="summary.json (or its report directory) of a baseline run, for gates such as "
        "'ttfi.p95 <= baseline * 1.10'",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--gate-min-streams",
        env_var="LOCUST_GATE_MIN_STREAMS",
        default=None,
        metavar="N",
        help=f"gates are inconclusive when a selected env recorded fewer streams "
        f"(default {DEFAULT_MIN_STREAMS}; 0 turns the check off)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--gate-alpha",
        env_var="LOCUST_GATE_ALPHA",
        default=None,
        metavar="ALPHA",
        help=f"significance level of 'significant' gates (default {DEFAULT_ALPHA})",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--gate-allow-partial",
        env_var="LOCUST_GATE_ALLOW_PARTIAL",
        action="store_true",
        default=False,
        help="judge the gates of an interrupted run (Ctrl-C, SIGTERM) on what it recorded "
        "(default: such a run is inconclusive, exit code 5)",
        include_in_web_ui=False,
    )


def gate_settings(parsed_options: Any, scenario: Scenario) -> GateSettings:
    """Parse every gate (scenario and ``--gate``) and load the baseline; raise ConfigError."""

    def get(name: str) -> Any:
        return getattr(parsed_options, name, None) if parsed_options is not None else None

    return build_settings(
        scenario,
        [str(t) for t in get("gate") or []],
        baseline=get("baseline") or None,
        min_streams=parse_min_streams(get("gate_min_streams")),
        alpha=parse_alpha(get("gate_alpha")),
        allow_partial=bool(get("gate_allow_partial")),
    )


def live_summary(state: GlueState) -> dict[str, Any]:
    """The stats of the running test, shaped like summary.json (no generator health yet)."""
    if state.session is None:
        raise FlowloadError("no test is running: there is no live summary")
    elapsed = state.elapsed_s()
    recorder = state.session.recorder
    return {
        "run": {"duration_s": elapsed, "generator_saturated": False},
        "overall": recorder.overall(elapsed),
        "by_env": recorder.by_env(elapsed),
        "by_env_flow": recorder.by_env_flow(elapsed),
    }


def _live_records(state: GlueState, due: Sequence[Gate]) -> list[dict[str, Any]] | None:
    if state.report_dir is None or not any(g.significant for g in due):
        return None
    path = state.report_dir / STREAMS_FILE
    return read_records(path).records if path.is_file() else None


def _check_once(
    environment: Any, state: GlueState, settings: GateSettings, gates: Sequence[Gate]
) -> bool:
    """Evaluate the due abort gates once; stop the test and return True when one fails."""
    elapsed = state.elapsed_s()
    due = [g for g in gates if elapsed >= g.delay_abort_s]
    if not due:
        return False
    verdicts = evaluate_gates(
        live_summary(state),
        due,
        baseline=settings.baseline,
        min_streams=settings.min_streams,
        records=_live_records(state, due),
        baseline_records=settings.baseline_records,
        alpha=settings.alpha,
    )
    settings.abort_checks += 1
    for gate, verdict in zip(due, verdicts, strict=True):
        if verdict.status == FAILED:
            settings.stopped = AbortRecord(gate, verdict, elapsed)
            logger.error(
                "flowload: gate %r failed %.1f s into the test (%s): stopping the test "
                "(abort_on_fail)",
                gate.label,
                elapsed,
                verdict.message,
            )
            environment.runner.quit()
            return True
    return False


def start_abort_watch(
    environment: Any, state: GlueState, settings: GateSettings
) -> gevent.Greenlet[Any, Any] | None:
    """Check ``abort_on_fail`` gates every second (after each one's ``delay_abort_s``).

    Runs on the master or the single process while the current test runs; returns the greenlet,
    or None when no gate asks to abort.
    """
    gates = [g for g in settings.gates if g.abort_on_fail]
    settings.stopped = None
    settings.abort_checks = 0
    if not gates:
        return None
    session = state.session

    def watch() -> None:
        while True:
            gevent.sleep(ABORT_CHECK_INTERVAL_S)
            if not state.test_running or state.session is not session:
                return
            try:
                if _check_once(environment, state, settings, gates):
                    return
            except FlowloadError as exc:  # a bad live summary must not kill the test
                logger.warning("flowload: abort_on_fail check skipped: %s", exc)

    return gevent.spawn(watch)


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """The end-of-test decision: verdicts, the process exit code and the console block."""

    verdicts: tuple[Verdict, ...]
    exit_code: int
    console: str


def _stdout_takes_marks() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def finish_gates(
    summary: dict[str, Any], settings: GateSettings, report_dir: Path | None
) -> GateOutcome | None:
    """Judge the finished test; None when no gate is configured (leave the exit code alone).

    Sets ``summary["gates"]`` (call it before summary.json and summary.md are written) and
    writes ``report_dir/junit.xml``. Print :attr:`GateOutcome.console` with :func:`print_gates`
    after the summary table, and use :attr:`GateOutcome.exit_code` (0, 4 failed, 5 inconclusive).
    """
    if not settings.gates:
        return None
    verdicts = judge_run(summary, settings, report_dir)
    summary["gates"] = [v.to_json() for v in verdicts]
    if report_dir is not None:
        try:
            write_junit(report_dir, verdicts, summary)
        except FlowloadError as exc:  # the verdicts still decide the exit code
            logger.error("flowload: %s", exc)
    console = format_gates(verdicts, ascii_only=not _stdout_takes_marks())
    return GateOutcome(tuple(verdicts), exit_code_for(verdicts), console)


def print_gates(outcome: GateOutcome | None) -> None:
    """Print the ✓/✗ block (nothing without gates)."""
    if outcome is None:
        return
    sys.stdout.write("\n" + outcome.console + "\n")
    sys.stdout.flush()
