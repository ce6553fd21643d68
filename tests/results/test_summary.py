"""harness.results.summary: the summary.json contract, round trip, versions, atomic write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.results import SummaryError
from harness.results.stream import OUTCOMES, Outcome, StreamResult
from harness.results.summary import (
    SCHEMA,
    RunInfo,
    build_summary,
    read_summary,
    write_summary,
)
from harness.stats import Recorder
from tests.builders import stream_result

BLOCK_KEYS = {
    "streams", "outcomes", "error_rate", "items", "bytes", "streams_per_s", "items_per_s",
    "ttfb_ms", "ttfi_ms", "itl_ms", "duration_ms", "limit_used",
}  # fmt: skip
METRIC_KEYS = {"count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}
RUN_KEYS = {
    "started", "ended", "duration_s", "host", "users", "workers", "locust_version",
    "harness_version", "mode", "limit_s",
}  # fmt: skip
STARTED = dt.datetime(2026, 11, 25, 3, 0, 0, 250_000, tzinfo=dt.UTC)


def stream(
    env: str, flow: str, outcome: Outcome = Outcome.OK, duration_s: float = 2.0
) -> StreamResult:
    ok = outcome is Outcome.OK
    return stream_result(env, flow, outcome, duration_s=duration_s, ttfb_s=0.05 if ok else None)


def recorder() -> Recorder:
    rec = Recorder()
    for _ in range(3):
        rec.record(stream("Production", "orders"))
    rec.record(stream("Production", "chat", duration_s=4.0))
    rec.record(stream("Test", "orders", Outcome.HTTP_ERROR, duration_s=0.1))
    rec.record(stream("Test", "orders"))
    return rec


def run_info(**kw: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "started": STARTED,
        "ended": STARTED + dt.timedelta(seconds=12),
        "duration_s": 12.0004,
        "host": "https://flow.example.com",
        "users": 5,
        "workers": 0,
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
    }
    fields.update(kw)
    return RunInfo(**fields)


def check_block(block: dict[str, Any]) -> None:
    assert set(block) >= BLOCK_KEYS
    assert list(block["outcomes"]) == [o.value for o in OUTCOMES]
    for metric in ("ttfb_ms", "ttfi_ms", "itl_ms", "duration_ms", "limit_used"):
        # The stats module may add keys (e.g. out_of_range); the contract's must be there.
        assert set(block[metric]) >= METRIC_KEYS, metric


def test_summary_has_the_contract_shape() -> None:
    summary = build_summary(run_info(), recorder())
    assert list(summary) == ["schema", "run", "overall", "by_env", "by_env_flow", "gates"]
    assert summary["schema"] == SCHEMA == "flowload.summary/1"
    assert set(summary["run"]) >= RUN_KEYS
    check_block(summary["overall"])
    assert list(summary["by_env"]) == ["Production", "Test"]
    for block in summary["by_env"].values():
        check_block(block)
    pairs = [(b["env"], b["flow"]) for b in summary["by_env_flow"]]
    assert pairs == [("Production", "chat"), ("Production", "orders"), ("Test", "orders")]
    for block in summary["by_env_flow"]:
        check_block(block)
    assert summary["gates"] == []
    assert "steps" not in summary


def test_summary_numbers_come_from_the_recorder() -> None:
    summary = build_summary(run_info(), recorder())
    overall = summary["overall"]
    assert overall["streams"] == 6
    assert overall["outcomes"]["ok"] == 5
    assert overall["outcomes"]["http_error"] == 1
    assert overall["error_rate"] == pytest.approx(1 / 6)
    assert overall["items"] == 15
    assert overall["bytes"] == 5 * 300 + 20
    # Rates are over the run's duration.
    assert overall["streams_per_s"] == pytest.approx(6 / 12.0004)
    assert overall["items_per_s"] == pytest.approx(15 / 12.0004)
    assert overall["duration_ms"]["max"] == pytest.approx(4000, rel=1e-3)
    assert overall["ttfi_ms"]["count"] == 5
    assert overall["itl_ms"]["count"] == 10
    assert summary["by_env"]["Test"]["streams"] == 2
    assert summary["by_env"]["Production"]["streams"] == 4
    chat = next(b for b in summary["by_env_flow"] if b["flow"] == "chat")
    assert chat["limit_used"]["max"] == pytest.approx(4.0 / 300, rel=1e-3)


def test_run_section_timestamps_are_iso_utc_and_duration_rounded() -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    run = run_info(started=STARTED.astimezone(eastern), mode="arrival", limit_s=120.0)
    data = build_summary(run, Recorder())["run"]
    assert data["started"] == "2026-11-25T03:00:00.250Z"
    assert data["ended"] == "2026-11-25T03:00:12.250Z"
    assert data["duration_s"] == 12.0
    assert data["mode"] == "arrival"
    assert data["limit_s"] == 120.0
    assert data["host"] == "https://flow.example.com"
    assert data["users"] == 5


def test_gates_and_steps_are_passed_through() -> None:
    gates = [{"expr": "ttfi.p95 < 800ms", "env": None, "flow": None, "observed": 200.0,
              "passed": True}]  # fmt: skip
    steps = [{"step": 1, "users": 10, "started": "x", "ended": "y"}]
    summary = build_summary(run_info(), recorder(), gates=gates, steps=steps)
    assert summary["gates"] == gates
    assert summary["steps"] == steps


def test_empty_recorder_gives_zero_blocks() -> None:
    summary = build_summary(run_info(), Recorder())
    assert summary["overall"]["streams"] == 0
    assert summary["overall"]["error_rate"] == 0.0
    assert summary["by_env"] == {}
    assert summary["by_env_flow"] == []
    check_block(summary["overall"])


def test_write_then_read_round_trips_and_leaves_no_temp_file(tmp_path: Path) -> None:
    summary = build_summary(run_info(), recorder())
    path = tmp_path / "summary.json"
    write_summary(path, summary)
    assert read_summary(path) == {**summary, "steps": None}
    write_summary(path, {**summary, "gates": [{"expr": "x", "passed": False}]})  # overwrite
    assert read_summary(path)["gates"] == [{"expr": "x", "passed": False}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_failed_write_is_a_summary_error_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.mkdir()
    (path / "occupied").write_text("x")  # the rename onto a non-empty directory fails
    with pytest.raises(SummaryError, match="cannot write"):
        write_summary(path, build_summary(run_info(), Recorder()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_write_into_a_missing_directory_is_a_summary_error(tmp_path: Path) -> None:
    with pytest.raises(SummaryError, match="cannot write"):
        write_summary(tmp_path / "nope" / "summary.json", {"schema": SCHEMA})


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (orjson.dumps({"schema": "flowload.summary/2"}), "unknown schema 'flowload.summary/2'"),
        (orjson.dumps({"run": {}}), "unknown schema None"),
        (orjson.dumps([1, 2]), "expected a JSON object, found list"),
    ],
)
def test_wrong_schema_is_a_summary_error(tmp_path: Path, content: bytes, found: str) -> None:
    path = tmp_path / "summary.json"
    path.write_bytes(content)
    with pytest.raises(SummaryError) as caught:
        read_summary(path)
    assert found in str(caught.value)


def test_unreadable_or_invalid_summary_is_a_summary_error(tmp_path: Path) -> None:
    with pytest.raises(SummaryError, match="not found"):
        read_summary(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"schema": "flowload.summary/1", "run": ')
    with pytest.raises(SummaryError, match="not valid JSON"):
        read_summary(broken)
