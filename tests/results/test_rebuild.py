"""harness.results.rebuild: a summary from streams.jsonl alone equals the recorded one."""

from __future__ import annotations

import datetime as dt
import math
import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli.report import report_main
from harness.report.run.html import render_report
from harness.report.run.plots import build_plots
from harness.results import load_run
from harness.results.rebuild import REBUILT_NOTE, summary_from_records
from harness.results.records import to_stream_record
from harness.results.stream import OUTCOMES, StreamResult
from harness.results.summary import RunInfo, build_summary
from harness.stats import Recorder
from tests.report.run.test_fixtures import FIXTURES

METRICS_EXACT = ("ttfb_ms", "ttfi_ms", "duration_ms", "limit_used")


def _results(seed: int, n: int = 300) -> list[StreamResult]:
    rng = random.Random(seed)
    results = []
    for i in range(n):
        items = rng.choice([0, 1, 2, 3])  # <= 2 gaps per stream: the ITL rebuild is exact too
        gaps = tuple(rng.uniform(0.005, 0.2) for _ in range(max(0, items - 1)))
        results.append(
            StreamResult(
                env=rng.choice(["Production", "Test"]),
                flow=rng.choice(["a", "b"]),
                outcome=rng.choice(OUTCOMES),
                started_at=1_795_000_000.0 + i * 0.05,
                duration_s=rng.uniform(0.01, 5.0),
                limit_s=30.0,
                status=200,
                job_id=f"job-{i}",
                ttfb_s=rng.uniform(0.001, 0.1),
                ttfi_s=rng.uniform(0.01, 1.0) if items else None,
                gaps_s=gaps,
                items=items,
                bytes=items * 100,
            )
        )
    return results


def _original(results: list[StreamResult]) -> dict[str, Any]:
    recorder = Recorder()
    for result in results:
        recorder.record(result)
    start = min(r.started_at for r in results)
    end = max(r.started_at + r.duration_s for r in results)
    run = RunInfo(
        started=dt.datetime.fromtimestamp(start, dt.UTC),
        ended=dt.datetime.fromtimestamp(end, dt.UTC),
        duration_s=end - start,
        host="h",
        users=3,
        workers=1,
        locust_version="x",
        harness_version="y",
        limit_s=30.0,
    )
    return build_summary(run, recorder)


def _assert_block_close(rebuilt: dict[str, Any], original: dict[str, Any]) -> None:
    for key in ("streams", "outcomes", "items", "bytes", "error_rate"):
        assert rebuilt[key] == original[key], key
    assert math.isclose(rebuilt["streams_per_s"], original["streams_per_s"], rel_tol=1e-3)
    for metric in (*METRICS_EXACT, "itl_ms"):
        for stat in ("count", "p50", "p90", "p99", "max"):
            a, b = rebuilt[metric][stat], original[metric][stat]
            if b is None:
                assert a is None, (metric, stat)
            else:
                assert math.isclose(a, b, rel_tol=2e-3, abs_tol=0.002), (metric, stat, a, b)


def test_rebuilt_summary_equals_the_recorded_one() -> None:
    results = _results(seed=11)
    original = _original(results)
    records = [to_stream_record(r.to_record("w1")) for r in results]
    rebuilt = summary_from_records([r for r in records if r is not None])
    assert rebuilt["schema"] == original["schema"]
    assert rebuilt["run"]["rebuilt_from_records"] is True
    assert rebuilt["run"]["note"] == REBUILT_NOTE
    assert "ITL percentiles are approximate" in REBUILT_NOTE
    assert rebuilt["run"]["limit_s"] == 30.0  # recovered from duration / limit_used
    assert math.isclose(rebuilt["run"]["duration_s"], original["run"]["duration_s"], abs_tol=1e-3)
    _assert_block_close(rebuilt["overall"], original["overall"])
    assert set(rebuilt["by_env"]) == set(original["by_env"])
    for env, block in original["by_env"].items():
        _assert_block_close(rebuilt["by_env"][env], block)
    pairs = {(b["env"], b["flow"]): b for b in rebuilt["by_env_flow"]}
    assert len(pairs) == len(original["by_env_flow"])
    for block in original["by_env_flow"]:
        _assert_block_close(pairs[(block["env"], block["flow"])], block)


def test_long_streams_keep_itl_median_and_max() -> None:
    gaps = (0.01, 0.02, 0.02, 0.03, 0.5)
    result = StreamResult(
        env="Production", flow="a", outcome=OUTCOMES[0], started_at=1.0, duration_s=1.0,
        limit_s=300.0, ttfi_s=0.1, gaps_s=gaps, items=6,
    )  # fmt: skip
    record = to_stream_record(result.to_record())
    assert record is not None
    itl = summary_from_records([record])["overall"]["itl_ms"]
    assert itl["count"] == 5
    assert math.isclose(itl["p50"], 20.0, rel_tol=2e-3)
    assert math.isclose(itl["max"], 500.0, rel_tol=2e-3)


RAW = st.fixed_dictionaries(
    {
        "t": st.floats(-1e300, 1e300),
        "env": st.sampled_from(["Production", "Test"]),
        "flow": st.text(min_size=1, max_size=4),
        "outcome": st.sampled_from([*(o.value for o in OUTCOMES), "weird"]),
        "duration_ms": st.floats(0, 1e7),
    },
    optional={
        "items": st.integers(-5, 50),
        "bytes": st.integers(-5, 10**9),
        "ttfi_ms": st.one_of(st.none(), st.floats(0, 1e6)),
        "itl_p50_ms": st.one_of(st.none(), st.floats(0, 1e6)),
        "itl_max_ms": st.one_of(st.none(), st.floats(0, 1e6)),
        "limit_used": st.one_of(st.none(), st.floats(0, 100)),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(RAW, max_size=20))
def test_any_records_rebuild_without_error(raws: list[dict[str, Any]]) -> None:
    records = [r for r in (to_stream_record(raw) for raw in raws) if r is not None]
    summary = summary_from_records(records)
    known = sum(1 for r in records if r.outcome != "weird")
    assert summary["overall"]["streams"] == known
    assert summary["run"]["skipped_records"] == len(records) - known
    orjson.dumps(summary)  # JSON-ready


def _fixture_copy(tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(FIXTURES / "v1", target)
    return target


def test_fixture_records_rebuild_its_counts(tmp_path: Path) -> None:
    run = _fixture_copy(tmp_path)
    original = load_run(run)
    (run / "summary.json").unlink()
    rebuilt = load_run(run)
    assert rebuilt.run["rebuilt_from_records"] is True
    for key in ("streams", "outcomes", "items", "bytes"):
        assert rebuilt.overall[key] == original.overall[key], key


@pytest.mark.parametrize("damage", ["missing", "truncated", "wrong shape"])
def test_report_cli_rebuilds_from_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    run = _fixture_copy(tmp_path)
    summary = run / "summary.json"
    if damage == "missing":
        summary.unlink()
    elif damage == "truncated":  # a crash mid-write
        summary.write_bytes(summary.read_bytes()[:100])
    else:
        summary.write_bytes(b'{"schema": "flowload.summary/1", "run": []}')
    assert report_main([str(run)]) == 0
    captured = capsys.readouterr()
    assert "ITL percentiles are approximate" in captured.err
    assert captured.err.count("\n") == 1
    for name in ("report.html", "summary.md", "stats.csv", "summary.rebuilt.json"):
        assert (run / name).is_file(), name
    rebuilt = orjson.loads((run / "summary.rebuilt.json").read_bytes())
    assert rebuilt["run"]["rebuilt_from_records"] is True
    assert rebuilt["overall"]["streams"] == len(load_run(run).records) > 0


def test_no_records_and_no_summary_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _fixture_copy(tmp_path)
    (run / "summary.json").unlink()
    (run / "streams.jsonl").write_bytes(b"")
    assert report_main([str(run)]) == 2
    assert "summary.json not found" in capsys.readouterr().err


def test_a_rebuilt_limit_reads_as_it_was_set(tmp_path: Path) -> None:
    # limit_used keeps 6 decimals: short streams give quotients like 300.09 s.
    rng = random.Random(3)
    raws: list[dict[str, Any]] = []
    for i in range(200):
        duration_ms = round(rng.uniform(150.0, 3000.0), 3)
        raws.append({"t": 1_795_000_000.0 + i, "env": "Production", "flow": "f",
                     "outcome": "ok", "duration_ms": duration_ms,
                     "limit_used": round(duration_ms / 300_000.0, 6)})  # fmt: skip
    (tmp_path / "streams.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in raws))
    run = load_run(tmp_path)
    assert run.run["limit_s"] == 300.0
    html = render_report(run)
    assert "<dt>limit</dt><dd>300 s</dd>" in html
    assert "limit 300 s" in "".join(p.svg or "" for p in build_plots(run))
    for limit in (2.5, 45.0, 3.0, 0.5):
        scaled = [{**r, "limit_used": round(r["duration_ms"] / 1000 / limit, 6)} for r in raws]
        records = [to_stream_record(r) for r in scaled]
        assert summary_from_records([r for r in records if r])["run"]["limit_s"] == limit
