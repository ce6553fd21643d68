"""harness.report.run.console: the end-of-run table (rows, order, outcomes, number formats)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.report.run.console import format_summary_table
from harness.results.stream import OUTCOMES, Outcome, StreamResult
from harness.results.summary import RunInfo, build_summary
from harness.stats import Recorder
from tests.builders import stream_result

START = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)


def stream(
    env: str, flow: str, outcome: Outcome = Outcome.OK, duration_s: float = 2.0
) -> StreamResult:
    return stream_result(
        env, flow, outcome, duration_s=duration_s, status=None, ttfb_s=None, bytes=0
    )


def summary_of(results: list[StreamResult]) -> dict[str, Any]:
    recorder = Recorder()
    for result in results:
        recorder.record(result)
    run = RunInfo(START, START + dt.timedelta(seconds=10), 10.0, "http://127.0.0.1:1", 1, 0,
                  "2.47", "0.1.0")  # fmt: skip
    return build_summary(run, recorder)


def rows(table: str) -> dict[str, str]:
    """Data rows keyed by their label (the text before the streams column)."""
    out = {}
    for line in table.splitlines()[3:]:
        label = line[: line.index("  ", 2)].strip() if line.startswith("  ") else line.split()[0]
        out[label] = line
    return out


def test_table_has_env_rows_env_flow_rows_and_all_last() -> None:
    results = [
        stream("Production", "orders"),
        stream("Production", "orders"),
        stream("Production", "chat"),
        stream("Test", "orders"),
        stream("Test", "orders", Outcome.TIMEOUT, duration_s=31.0),
        stream("Test", "orders", Outcome.HTTP_ERROR, duration_s=0.1),
    ]
    table = format_summary_table(summary_of(results))
    lines = table.splitlines()
    assert lines[0].startswith("flowload streaming summary")
    assert lines[1].split()[:3] == ["env", "/", "flow"]
    assert set(lines[2]) == {"-"}
    by_label = rows(table)
    assert list(by_label) == [
        "Production",
        "Production / chat",
        "Production / orders",
        "Test",
        "Test / orders",
        "ALL",
    ]
    assert lines[4].startswith("  Production / chat")  # flow rows are indented under their env
    assert by_label["Production"].split()[1:3] == ["3", "100.0"]
    assert by_label["ALL"].split()[1:3] == ["6", "66.7"]
    assert by_label["Test"].split()[1:3] == ["3", "33.3"]


def test_non_ok_outcomes_are_listed_on_their_rows_only() -> None:
    results = [
        stream("Production", "orders"),
        stream("Test", "orders", Outcome.TIMEOUT),
        stream("Test", "orders", Outcome.TIMEOUT),
        stream("Test", "chat", Outcome.STALLED),
    ]
    by_label = rows(format_summary_table(summary_of(results)))
    assert by_label["Test / orders"].endswith("  timeout=2")
    assert by_label["Test / chat"].endswith("  stalled=1")
    assert by_label["Test"].endswith("  timeout=2, stalled=1")  # in Outcome order
    assert by_label["ALL"].endswith("  timeout=2, stalled=1")
    assert "=" not in by_label["Production"]
    assert "ok=" not in by_label["ALL"]


def test_every_outcome_kind_can_be_listed() -> None:
    results = [stream("Development", "f", outcome) for outcome in OUTCOMES]
    all_row = rows(format_summary_table(summary_of(results)))["ALL"]
    for outcome in OUTCOMES[1:]:
        assert f"{outcome.value}=1" in all_row


def block(**metrics: dict[str, float | None]) -> dict[str, Any]:
    return {"streams": 4, "outcomes": {"ok": 3, "timeout": 1}, **metrics}


def test_number_formats_ms_seconds_and_missing_values() -> None:
    summary = {
        "by_env": {
            "Test": block(
                ttfi_ms={"p50": 9.87, "p95": 150.4, "p99": 12_345.0},
                duration_ms={"p50": 99.95, "p95": 10_000.0, "max": None},
                limit_used={"max": 0.5},
            )
        },
        "by_env_flow": [],
        "overall": {"streams": 0, "outcomes": {}},
    }
    by_label = rows(format_summary_table(summary))
    cells = by_label["Test"].split()
    assert cells[1:6] == ["4", "75.0", "9.9", "150", "12.3s"]
    assert cells[6:8] == ["-", "-"]  # no itl block
    assert cells[8:12] == ["100.0", "10.0s", "-", "50%"]
    assert cells[12:] == ["timeout=1"]
    assert by_label["ALL"].split()[1:] == ["0", "-", *["-"] * 9]


def test_long_labels_widen_the_first_column() -> None:
    name = "a-very-long-flow-name-that-is-wider-than-the-default"
    table = format_summary_table(summary_of([stream("Production", name)]))
    lines = table.splitlines()
    header, flow_row = lines[1], lines[4]
    assert flow_row.startswith(f"  Production / {name} ")
    # The columns stay aligned: the streams column ends at the same place in every row.
    end = header.index("streams") + len("streams")
    assert all(line[end - 1] == "1" for line in lines[3:])
