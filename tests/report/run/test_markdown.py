"""harness.report.run.markdown: a compact summary.md with valid tables and gate verdicts."""

from __future__ import annotations

from pathlib import Path

from harness.report.render.md import md_escape, render_md_table
from harness.report.render.table import Table
from harness.report.run.markdown import render_markdown
from harness.results.run_data import load_run
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run


def table_rows(markdown: str) -> list[list[str]]:
    return [line.split(" | ") for line in markdown.splitlines() if line.startswith("| ")]


def test_fixture_summary_has_sections_and_verdicts() -> None:
    text = render_markdown(load_run(FIXTURES / "v1"))
    assert text.startswith("## flowload report")
    assert "### Gates: ❌ 1 failed of 3 gate(s)" in text
    assert "| FAIL | duration.max < 2s | Test | orders-export |" in text
    assert "### Per environment" in text
    assert "### Per flow" in text
    assert "> **Warning:** The load generator was saturated" in text
    assert "### Failed streams" not in text  # every fixture stream is ok


def test_tables_have_consistent_columns() -> None:
    text = render_markdown(load_run(FIXTURES / "v1"))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("|:", "|-")):
            columns = lines[i - 1].count(" | ")
            j = i + 1
            while j < len(lines) and lines[j].startswith("| "):
                assert lines[j].count(" | ") == columns, lines[j]
                j += 1


def test_pipes_in_cells_cannot_break_a_table(tmp_path: Path) -> None:
    records = synthetic_records(4, 100, failure_share=0.3)
    text = render_markdown(load_run(write_run(tmp_path, records)))
    assert "### Failed streams" in text
    assert "HTTP 503 \\| upstream <busy>" in text
    assert "_showing the first 10 of" in text


def test_md_escape_and_table() -> None:
    assert md_escape("a|b\nc") == "a\\|b c"
    table = render_md_table(Table(["env", "p50"], [["P|x", "1 ms"]]))
    assert table.splitlines() == ["| env | p50 |", "|:--|--:|", "| P\\|x | 1 ms |"]


def test_markdown_has_generator_health() -> None:
    md = render_markdown(load_run(FIXTURES / "v1-health"))
    assert "### Generator health" in md
    assert "- clock: mixed:" in md
    assert "| worker-b |" in md
    assert "CPU p90 97 % > 90 %; event-loop lag p99 12.3 ms > 4 ms" in md
