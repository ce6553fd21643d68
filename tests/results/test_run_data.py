"""harness.results.run_data: every schema version's fixture loads; damage is a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.results import ResultsError, load_run, read_summary
from harness.results.records import to_stream_record
from harness.results.summary import SUPPORTED_SCHEMAS
from harness.secrets import mask_key_text
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run

FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def test_every_supported_schema_has_a_fixture() -> None:
    found = {orjson.loads((d / "summary.json").read_bytes())["schema"] for d in FIXTURE_DIRS}
    assert found == set(SUPPORTED_SCHEMAS)


@pytest.mark.parametrize("directory", FIXTURE_DIRS, ids=lambda p: p.name)
def test_each_fixture_loads_into_the_current_shape(directory: Path) -> None:
    run = load_run(directory)
    assert run.schema in SUPPORTED_SCHEMAS
    assert run.overall["streams"] == len(run.records) > 0
    assert set(run.by_env) == {r.env for r in run.records}
    assert {(b["env"], b["flow"]) for b in run.by_env_flow} == {
        (r.env, r.flow) for r in run.records
    }
    assert run.limit_s == 300.0
    assert run.bad_lines == 0
    assert all(r.job_id for r in run.records)
    assert [r.t for r in run.records] == sorted(r.t for r in run.records)


def test_v1_fixture_gates_are_kept() -> None:
    run = load_run(FIXTURES / "v1")
    assert [g["passed"] for g in run.gates] == [True, True, False]


def test_missing_records_file_is_allowed(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "v1" / "summary.json", tmp_path / "summary.json")
    run = load_run(tmp_path)
    assert run.records == []
    assert not run.has_records_file


def test_torn_and_incomplete_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    write_run(tmp_path, synthetic_records(1, 20))
    with (tmp_path / "streams.jsonl").open("ab") as file:
        file.write(b'{"t": 1795000000.0, "env": "Production"}\n{"t": 17950')
    run = load_run(tmp_path)
    assert len(run.records) == 20
    assert run.bad_lines == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, found list"),
        (b'{"schema": "flowload.summary/99"}', "unknown schema 'flowload.summary/99'"),
        (b'{"schema": "flowload.summary/1", "run": {}, "overall": {}, "by_env": []}', "'by_env'"),
    ],
)
def test_bad_summaries_are_results_errors(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "summary.json").write_bytes(content)
    with pytest.raises(ResultsError, match=message):
        load_run(tmp_path)


def test_unknown_schema_error_lists_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_bytes(b'{"schema": "other"}')
    with pytest.raises(ResultsError, match=r"flowload\.summary/1"):
        read_summary(tmp_path / "summary.json")


def test_missing_directory_and_missing_summary(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="is not a directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(ResultsError, match=r"summary\.json not found"):
        load_run(tmp_path)


@given(
    st.dictionaries(
        st.sampled_from(["t", "env", "flow", "outcome", "duration_ms", "status", "ttfi_ms"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    )
)
def test_record_conversion_never_raises(raw: dict[str, object]) -> None:
    record = to_stream_record(raw)
    if record is not None:
        assert isinstance(record.t, float)
        assert isinstance(record.env, str)
        assert record.ttfi_ms is None or isinstance(record.ttfi_ms, float)


def test_secrets_are_masked_on_the_way_in(tmp_path: Path) -> None:
    records = synthetic_records(1, 3)
    records[0]["error"] = "HTTP 401 for /stream?env=Test&api_key=sekrit-123 (x-api-key: sekrit-456)"
    write_run(tmp_path, records)
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    summary["run"]["host"] = "https://user:pw@flow.example.com/?api_key=sekrit-789"
    (tmp_path / "summary.json").write_bytes(orjson.dumps(summary))
    run = load_run(tmp_path)
    texts = [run.run["host"], *(r.error or "" for r in run.records)]
    assert not any("sekrit" in text or "pw@" in text for text in texts), texts
    assert "api_key=" in " ".join(texts)


def test_masking_leaves_other_text_alone() -> None:
    assert mask_key_text("HTTP 503 | upstream busy") == "HTTP 503 | upstream busy"
    assert "abc" not in mask_key_text("API-KEY=abc")
