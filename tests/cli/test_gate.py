"""Tests of harness.cli.gate: ``flowload gate DIR`` over saved runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli.exitcodes import EXIT_COULD_NOT_RUN, EXIT_GATES_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from harness.cli.exitcodes import EXIT_USAGE as USAGE_ERROR
from harness.cli.gate import gate_main
from harness.results.stream import Outcome, StreamResult
from harness.results.summary import SCHEMA
from harness.run.session import RunSession
from tests.gates.test_junit import check_junit_shape

ELAPSED_S = 10.0


def save_run(directory: Path, ttfi_s: float, count: int = 30) -> Path:
    """A real run directory: summary.json from a Recorder and the streams.jsonl records."""
    directory.mkdir(parents=True)
    session = RunSession()
    session.open_records(directory)
    for i in range(count):
        session.record(
            StreamResult(
                env="Production",
                flow="orders",
                outcome=Outcome.OK,
                started_at=1_764_039_600.0 + i,
                duration_s=1.0,
                limit_s=300.0,
                ttfi_s=ttfi_s * (1 + (i % 10) / 20),
                gaps_s=(0.01,),
                items=2,
                bytes=100,
            )
        )
    session.close()
    recorder = session.recorder
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {"duration_s": ELAPSED_S, "generator_saturated": False},
        "overall": recorder.overall(ELAPSED_S),
        "by_env": recorder.by_env(ELAPSED_S),
        "by_env_flow": recorder.by_env_flow(ELAPSED_S),
        "gates": [],
    }
    (directory / "summary.json").write_bytes(orjson.dumps(summary))
    return directory


def test_gates_on_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = save_run(tmp_path / "run", 0.2)
    assert gate_main([str(run), "--gate", "Production: ttfi.p95 < 800ms"]) == EXIT_OK
    assert "✓ Production: ttfi.p95 < 800ms" in capsys.readouterr().out
    assert gate_main([str(run / "summary.json"), "--gate", "ttfi.p50 < 100ms"]) == EXIT_GATES_FAILED
    assert gate_main([str(run), "--gate", "ttfi.p50 < 1s", "--gate-min-streams", "31"]) == (
        EXIT_INCONCLUSIVE
    )


def test_scenario_gates_and_junit(tmp_path: Path) -> None:
    run = save_run(tmp_path / "run", 0.2)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text('[[gates]]\nexpr = "error_rate < 1%"\n', encoding="utf-8")
    out = tmp_path / "out"
    code = gate_main([str(run), "--flow-config", str(scenario), "--junit", str(out)])
    assert code == EXIT_OK
    suite = check_junit_shape((out / "junit.xml").read_text(encoding="utf-8"))
    assert suite.get("tests") == "1"


def test_significant_regression_against_a_baseline(tmp_path: Path) -> None:
    base = save_run(tmp_path / "base", 0.2, count=60)
    slower = save_run(tmp_path / "new", 0.4, count=60)
    same = save_run(tmp_path / "same", 0.2, count=60)
    gate = ["--gate", "Production: ttfi.p95 <= baseline * 1.1 significant", "--baseline", str(base)]
    assert gate_main([str(slower), *gate]) == EXIT_GATES_FAILED
    assert gate_main([str(same), *gate]) == EXIT_OK


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], USAGE_ERROR, "the following arguments are required"),
        (["RUN"], USAGE_ERROR, "no gates"),
        (["RUN", "--gate", "ttfi.p95 < fast"], EXIT_COULD_NOT_RUN, "cannot read the value"),
        (["MISSING", "--gate", "ttfi.p95 < 1s"], EXIT_COULD_NOT_RUN, "not found"),
        (["RUN", "--gate", "ttfi.p95 <= baseline"], EXIT_COULD_NOT_RUN, "pass --baseline"),
        (["RUN", "--gate", "ttfi.p95 < 1s", "--gate-alpha", "2"], EXIT_COULD_NOT_RUN, "alpha"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    run = save_run(tmp_path / "run", 0.2)
    argv = [
        str(run) if a == "RUN" else str(tmp_path / "missing") if a == "MISSING" else a for a in args
    ]
    assert gate_main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_an_interrupted_run_is_inconclusive_unless_partial_runs_are_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = save_run(tmp_path / "run", 0.2)
    summary = orjson.loads((run / "summary.json").read_bytes())
    summary["run"]["interrupted"] = True
    (run / "summary.json").write_bytes(orjson.dumps(summary))
    gate = ["--gate", "Production: ttfi.p95 < 800ms"]
    assert gate_main([str(run), *gate]) == EXIT_INCONCLUSIVE
    assert "the run was interrupted" in capsys.readouterr().out
    assert gate_main([str(run), *gate, "--gate-allow-partial"]) == EXIT_OK
