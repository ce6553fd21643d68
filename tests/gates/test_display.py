"""Tests of harness.gates.display: the ✓/✗ block and its Markdown twin."""

from __future__ import annotations

from harness.gates import FAILED, INCONCLUSIVE, PASSED, Verdict, format_gates, format_gates_markdown


def verdict(status: str, label: str, message: str, *, stopped: bool = False) -> Verdict:
    return Verdict(label, None, None, 1.0, 2.0, status, message, "ms", label, stopped_run=stopped)


VERDICTS = [
    verdict(PASSED, "Production: ttfi.p95 < 800ms", "ttfi.p95 = 412 ms (< 800 ms)"),
    verdict(FAILED, "error_rate < 1%", "error_rate = 2.4%, expected < 1%", stopped=True),
    verdict(INCONCLUSIVE, "Test: itl.p99 < 250ms", "no streams for Test in this run"),
]


def test_block_lists_each_gate_with_its_mark_and_message() -> None:
    lines = format_gates(VERDICTS).splitlines()
    assert lines[0] == (
        "flowload gates: 1 passed, 1 failed, 1 inconclusive -> exit code 4 (a gate failed)"
    )
    gate_lines = lines[1:]
    assert len(gate_lines) == 3
    assert gate_lines[0].startswith("  ✓ Production: ttfi.p95 < 800ms")
    assert gate_lines[0].endswith("ttfi.p95 = 412 ms (< 800 ms)")
    assert gate_lines[1].startswith("  ✗ error_rate < 1%")
    assert gate_lines[1].endswith("[stopped the run]")
    assert gate_lines[2].startswith("  ? Test: itl.p99 < 250ms")
    # Messages line up in one column.
    starts = {line.index(v.message) for line, v in zip(gate_lines, VERDICTS, strict=True)}
    assert starts == {4 + max(len(v.label) for v in VERDICTS) + 2}


def test_inconclusive_headline_has_a_hint() -> None:
    text = format_gates([VERDICTS[0], VERDICTS[2]])
    assert "exit code 5 (a gate is inconclusive)" in text
    assert "hint: too few streams" in text
    assert "hint" not in format_gates(VERDICTS[:1])
    assert "exit code 0 (all gates passed)" in format_gates(VERDICTS[:1])


def test_ascii_block() -> None:
    text = format_gates(VERDICTS, ascii_only=True)
    assert "✓" not in text
    assert "✗" not in text
    assert "PASS Production" in text
    assert "FAIL error_rate" in text
    text.encode("ascii")


def test_markdown_table() -> None:
    pipe = verdict(FAILED, "outcomes.ok >= 1", "a | b")
    text = format_gates_markdown([*VERDICTS, pipe])
    lines = text.splitlines()
    assert lines[0] == "## Gates"
    assert "exit code 4 (a gate failed)" in lines[2]
    rows = [line for line in lines if line.startswith("| ") and "status" not in line]
    assert len(rows) == 1 + 4  # header + one row per gate
    assert "| ✓ passed | `Production: ttfi.p95 < 800ms` | ttfi.p95 = 412 ms (< 800 ms) |" in rows
    assert rows[-1].endswith("a \\| b |")
    assert "(stopped the run)" in rows[2]
    assert format_gates_markdown([]) == ""
