"""harness.report.run.csv_out: one row per (env, flow), every stats field, readable back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.report.run.csv_out import flatten, render_csv
from harness.results.run_data import load_run
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run


def test_one_row_per_env_flow_matching_the_summary() -> None:
    run = load_run(FIXTURES / "v1")
    rows = list(csv.DictReader(io.StringIO(render_csv(run))))
    assert len(rows) == len(run.by_env_flow)
    for row, block in zip(rows, run.by_env_flow, strict=True):
        assert (row["env"], row["flow"]) == (block["env"], block["flow"])
        assert int(row["streams"]) == block["streams"]
        assert int(row["outcomes.ok"]) == block["outcomes"]["ok"]
        assert float(row["ttfi_ms.p95"]) == pytest.approx(block["ttfi_ms"]["p95"])
        assert float(row["itl_ms.p99.9"]) == pytest.approx(block["itl_ms"]["p99.9"])
        assert float(row["limit_used.max"]) == pytest.approx(block["limit_used"]["max"])


def test_header_starts_with_the_key_and_keeps_metric_groups(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, synthetic_records(1, 200)))
    header = render_csv(run).splitlines()[0].split(",")
    assert header[:3] == ["env", "flow", "streams"]
    ttfi = [i for i, name in enumerate(header) if name.startswith("ttfi_ms.")]
    assert ttfi == list(range(ttfi[0], ttfi[0] + len(ttfi)))


def test_missing_values_are_empty_cells(tmp_path: Path) -> None:
    # Every stream failed before its first item: TTFI percentiles are null.
    run = load_run(write_run(tmp_path, synthetic_records(2, 30, failure_share=1.0)))
    rows = list(csv.DictReader(io.StringIO(render_csv(run))))
    assert rows
    assert all(row["ttfi_ms.p50"] == "" for row in rows)
    assert all(row["ttfi_ms.count"] == "0" for row in rows)


nested = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(allow_nan=False)),
    lambda inner: st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=3), nested, max_size=4))
def test_flatten_keeps_every_leaf(block: dict[str, object]) -> None:
    def leaves(value: object) -> int:
        if isinstance(value, dict):
            return sum(leaves(v) for v in value.values())
        return 1

    flat = flatten(block)
    assert len(flat) == leaves(block)
    assert not any(isinstance(v, dict) for v in flat.values())
