"""The simulator's own records: lateness histogram (against a sorted-list oracle) and the log."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.simulator.send_log import OUTCOMES, LateHistogram, SchedStats, StreamLog


@given(
    st.lists(st.floats(-0.01, 70.0, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_percentiles_match_the_oracle_within_one_bucket(values: list[float], pct: float) -> None:
    h = LateHistogram()
    for v in values:
        h.record(v)
    got = h.percentile_ms(pct)
    assert got is not None
    ordered = sorted(max(v, 0.0) for v in values)
    truth = ordered[max(1, math.ceil(len(values) * pct / 100.0)) - 1] * 1000.0
    assert truth - 0.0005 - 1e-9 <= got  # values are rounded to the microsecond
    bucket_ms = 0.01 if truth < 100.0 else 1.0  # 10 us buckets, then 1 ms
    if truth < 60_000.0:
        assert got <= truth + bucket_ms + 0.0005  # one bucket, plus rounding
    assert h.total == len(values)
    assert h.max_s == pytest.approx(max(values)) or max(values) <= 0


def test_empty_and_reset() -> None:
    s = SchedStats()
    assert s.snapshot()["sched_error_ms"]["p99"] is None
    s.record_error(0.0015)
    assert s.snapshot()["sched_error_ms"] == {
        "count": 1, "p50": 1.5, "p99": 1.5, "p99.9": 1.5, "max": 1.5,
    }  # fmt: skip
    s.reset()
    assert s.snapshot()["sched_error_ms"]["count"] == 0


def test_stream_log_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = StreamLog(path)
    log.write({"job_id": "a", "outcome": "ok"})
    log.write({"job_id": "b", "outcome": "reset"})
    log.close()
    rows = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert [r["job_id"] for r in rows] == ["a", "b"]
    assert all(r["outcome"] in OUTCOMES and r["ts"] > 0 for r in rows)
    StreamLog(None).write({"x": 1})  # no file: a no-op, and no error
    with pytest.raises(ConfigError, match="cannot open log file"):
        StreamLog(tmp_path / "missing" / "dir" / "log.jsonl")
