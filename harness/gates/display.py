"""The end-of-run gate block (console, one line per gate) and its Markdown twin for summary.md."""

from __future__ import annotations

from collections.abc import Sequence

from harness.cli.exitcodes import EXIT_GATES_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from harness.gates.evaluate import FAILED, INCONCLUSIVE, PASSED, Verdict, exit_code_for

__all__ = ["INCONCLUSIVE_HINT", "format_gates", "format_gates_markdown"]

_MARKS = {PASSED: "✓", FAILED: "✗", INCONCLUSIVE: "?"}
_ASCII_MARKS = {PASSED: "PASS", FAILED: "FAIL", INCONCLUSIVE: "????"}
INCONCLUSIVE_HINT = (
    "too few streams: run longer, with more users or a lower --gate-min-streams; a saturated "
    "generator: fewer users per process or more workers; no data for a selector: check env/flow"
)
_EXIT_MEANING = {
    EXIT_OK: "all gates passed",
    EXIT_GATES_FAILED: "a gate failed",
    EXIT_INCONCLUSIVE: "a gate is inconclusive",
}


def _counts(verdicts: Sequence[Verdict]) -> str:
    parts = [f"{sum(v.status == s for v in verdicts)} {s}" for s in (PASSED, FAILED, INCONCLUSIVE)]
    return ", ".join(parts)


def format_gates(verdicts: Sequence[Verdict], *, ascii_only: bool = False) -> str:
    """The console block: a headline with the exit code, then one ✓/✗/? line per gate.

    ``ascii_only`` uses PASS/FAIL/???? for terminals that cannot print ✓ and ✗.
    """
    marks = _ASCII_MARKS if ascii_only else _MARKS
    code = exit_code_for(verdicts)
    lines = [f"flowload gates: {_counts(verdicts)} -> exit code {code} ({_EXIT_MEANING[code]})"]
    if code == EXIT_INCONCLUSIVE:
        lines.append(f"  hint: {INCONCLUSIVE_HINT}")
    width = max((len(v.label) for v in verdicts), default=0)
    for verdict in verdicts:
        note = "  [stopped the run]" if verdict.stopped_run else ""
        lines.append(f"  {marks[verdict.status]} {verdict.label:<{width}}  {verdict.message}{note}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_gates_markdown(verdicts: Sequence[Verdict]) -> str:
    """A Markdown section (heading, headline, table) for summary.md; empty without gates."""
    if not verdicts:
        return ""
    code = exit_code_for(verdicts)
    lines = [
        "## Gates",
        "",
        f"{_counts(verdicts)}: exit code {code} ({_EXIT_MEANING[code]}).",
        *([f"Hint: {INCONCLUSIVE_HINT}.", ""] if code == EXIT_INCONCLUSIVE else [""]),
        "| | Gate | Result |",
        "|---|---|---|",
    ]
    for verdict in verdicts:
        note = " (stopped the run)" if verdict.stopped_run else ""
        lines.append(
            f"| {_MARKS[verdict.status]} {verdict.status} | `{_cell(verdict.label)}` "
            f"| {_cell(verdict.message)}{note} |"
        )
    return "\n".join(lines) + "\n"
