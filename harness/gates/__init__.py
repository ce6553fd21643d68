"""CI performance gates: parse ``ttfi.p95 < 800ms``, judge a summary, write junit.xml.

Pure and Locust-free: :func:`parse_gate` at startup (a bad gate is a :class:`GateError` before the
run), :func:`evaluate_gates` over a finished (or live) summary, :func:`exit_code_for` at the edge.
:func:`build_settings` gathers a run's gates (scenario + command line) and baseline at startup;
:func:`judge_run` judges a finished run with them. ``flowload gate`` is :mod:`harness.cli.gate`.
"""

from __future__ import annotations

from harness.criteria.grammar import Gate, GateError, Op, Threshold, gate_from_config, parse_gate
from harness.gates.display import format_gates, format_gates_markdown
from harness.gates.evaluate import (
    DEFAULT_MIN_STREAMS,
    FAILED,
    INCONCLUSIVE,
    PASSED,
    Verdict,
    evaluate_gates,
    exit_code_for,
    run_problem,
)
from harness.gates.junit import JUNIT_FILE, junit_xml, write_junit
from harness.gates.settings import GateSettings, build_settings, judge_run

__all__ = [
    "DEFAULT_MIN_STREAMS",
    "FAILED",
    "INCONCLUSIVE",
    "JUNIT_FILE",
    "PASSED",
    "Gate",
    "GateError",
    "GateSettings",
    "Op",
    "Threshold",
    "Verdict",
    "build_settings",
    "evaluate_gates",
    "exit_code_for",
    "format_gates",
    "format_gates_markdown",
    "gate_from_config",
    "judge_run",
    "junit_xml",
    "parse_gate",
    "run_problem",
    "write_junit",
]
