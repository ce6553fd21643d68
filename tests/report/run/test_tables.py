"""harness.report.run.tables: the rows both renderers share."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness.report.run.html import render_report
from harness.report.run.markdown import render_markdown
from harness.report.run.tables import (
    env_side_by_side,
    failed_streams,
    run_facts,
    run_warnings,
    slowest_streams,
    steps_table,
)
from harness.results.run_data import RunData, load_run
from tests.report.run.test_fixtures import FIXTURES, stats_block, synthetic_records, write_run


def fixture() -> RunData:
    return load_run(FIXTURES / "v1")


def test_side_by_side_has_all_then_each_env() -> None:
    table = env_side_by_side(fixture())
    assert table.header == ["", "all", "Development", "Production", "Test"]
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["streams"] == ["8", "4", "1", "3"]
    assert rows["ok"] == ["100.0%"] * 4
    assert rows["TTFI p50 / p95"][0] == "477 ms / 1266 ms"
    assert rows["limit used (max)"][0] == "1.0%"


def test_slowest_first_with_job_ids() -> None:
    run = fixture()
    table = slowest_streams(run, 3)
    durations = sorted((r.duration_ms for r in run.records), reverse=True)[:3]
    assert [row[6] for row in table.rows] == [f"{d:.0f} ms" for d in durations]
    assert all(row[9] != "-" for row in table.rows)


def test_failed_streams_in_start_order_with_a_note(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, synthetic_records(7, 200, failure_share=0.5)))
    table = failed_streams(run, 5)
    assert len(table.rows) == 5
    assert all(row[3] != "ok" for row in table.rows)
    assert [row[0] for row in table.rows] == sorted(row[0] for row in table.rows)
    failed = sum(r.outcome != "ok" for r in run.records)
    assert table.note == f"showing the first 5 of {failed}"


def test_warnings_name_each_problem() -> None:
    run = fixture()
    info = {**run.run, "interrupted": True, "degraded": True, "lost_workers": ["w2"]}
    warnings = " ".join(run_warnings(dataclasses.replace(run, run=info, bad_lines=3)))
    assert "saturated" in warnings
    assert "interrupted" in warnings
    assert "(w2)" in warnings
    assert "5 stream(s) were still running" in warnings
    assert "3 line(s) of streams.jsonl" in warnings
    quiet: dict[str, Any] = {**run.run, "generator_saturated": False, "cancelled_streams": 0}
    assert run_warnings(dataclasses.replace(run, run=quiet)) == []


def test_facts_never_hold_more_than_the_stored_host() -> None:
    facts = dict(run_facts(fixture()))
    assert facts["target"] == fixture().run["host"]
    assert facts["limit"] == "300 s"


def test_steps_render_in_html_and_markdown(tmp_path: Path) -> None:
    records = synthetic_records(5, 120)
    run = load_run(write_run(tmp_path, records))
    steps = [
        {"step": i, "users": users, "dropped": 0, **stats_block(records[i * 40 : i * 40 + 40], 20)}
        for i, users in enumerate((5, 10, 20))
    ]
    run = dataclasses.replace(run, steps=steps)
    table = steps_table(run)
    assert [row[:3] for row in table.rows] == [["0", "5 users", "40"], ["1", "10 users", "40"],
                                               ["2", "20 users", "40"]]  # fmt: skip
    assert 'id="steps"' in render_report(run)
    assert "### Load steps" in render_markdown(run)
    assert steps_table(dataclasses.replace(run, steps=[{"rate": 2.5}])).rows[0][1] == (
        "2.5 streams/s"
    )


def test_missing_records_are_explained_on_the_page(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_bytes((FIXTURES / "v1" / "summary.json").read_bytes())
    html = render_report(load_run(tmp_path))
    assert html.count("Not drawn: no per-stream records") == 7


def test_inconclusive_gates_are_neither_passed_nor_failed() -> None:
    from harness.report.run.tables import gate_status, gates_verdict

    gates = [
        {"expr": "a", "passed": True, "status": "passed"},
        {"expr": "b", "passed": False, "status": "inconclusive"},
        {"expr": "c", "passed": False},  # an older verdict without status
    ]
    assert [gate_status(g) for g in gates] == ["PASS", "INCONCLUSIVE", "FAIL"]
    assert gates_verdict(gates) == ("1 failed and 1 inconclusive of 3 gate(s)", False)
    assert gates_verdict(gates[:1]) == ("all gates passed", True)
