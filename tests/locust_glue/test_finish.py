"""harness.locust_glue.finish: a failing report step warns and never touches the raw records."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import harness.report
from harness.config import default_scenario
from harness.locust_glue.finish import _write_reports
from harness.locust_glue.options import GlueOptions
from harness.locust_glue.state import LOCAL, GlueState

RECORD = (
    b'{"t": 1795000000.0, "env": "Production", "flow": "f", "outcome": "ok", "duration_ms": 5}\n'
)


def _state(report_dir: Path) -> GlueState:
    options = GlueOptions(None, None, report_dir, None, None, None, insecure=False)
    return GlueState(
        role=LOCAL, options=options, scenario=default_scenario(), report_dir=report_dir
    )


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "streams.jsonl").write_bytes(RECORD)
    (run / "summary.json").write_bytes(b"{}")
    return run


@pytest.mark.parametrize("error", [harness.report.ReportError("disk full"), ValueError("a bug")])
def test_a_report_failure_is_a_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    run = _run_dir(tmp_path)

    def broken(report_dir: Path, out_dir: Path | None = None) -> list[Path]:
        raise error

    monkeypatch.setattr(harness.report, "write_reports", broken)
    with caplog.at_level(logging.WARNING, logger="flowload"):
        _write_reports(_state(run))  # must not raise
    assert "could not be written" in caplog.text
    assert str(error) in caplog.text
    assert f"flowload report {run}" in caplog.text
    assert (run / "streams.jsonl").read_bytes() == RECORD
    assert (run / "summary.json").read_bytes() == b"{}"
