"""Crash safety: interrupted runs still write a summary; a broken report step loses nothing."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    load_json,
    load_jsonl,
    locust_command,
    locust_env,
    run_locust,
    scenario_file,
)

FLOW = """
[[flows]]
name = "paced"
id = "{orders}"
headers = {{ "x-flowload-items" = "4", "x-flowload-ttfi-ms" = "50", "x-flowload-gap-ms" = "30" }}
"""


def _wait_for_records(path: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size > 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"no records in {path} after {deadline_s} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_still_writes_an_interrupted_summary(
    tmp_path: Path, simulator: SimulatorProcess, sig: signal.Signals
) -> None:
    scenario = scenario_file(tmp_path, simulator.url, FLOW.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    args = ["--headless", "-u", "6", "-r", "6", "-t", "60s", "--flow-config", str(scenario)]
    proc = subprocess.Popen(
        locust_command(*args, "--report-dir", str(report)),
        cwd=tmp_path,
        env=locust_env({"E2E_FLOW_KEY": E2E_KEY}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_records(report / "streams.jsonl", 30)
        time.sleep(1.0)
        started = time.perf_counter()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.perf_counter() - started < 20, "locust took too long to stop"
    assert "Traceback" not in err, err[-3000:]
    summary = load_json(report / "summary.json")
    records = load_jsonl(report / "streams.jsonl")
    assert summary["run"]["interrupted"] is True, summary["run"]
    assert summary["overall"]["streams"] == len(records) > 0
    assert summary["overall"]["outcomes"]["ok"] == len(records)
    assert "flowload streaming summary" in out


def test_a_failing_report_step_keeps_the_raw_records(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    scenario = scenario_file(tmp_path, simulator.url, FLOW.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    (report / "report.html").mkdir(parents=True)  # writing report.html must fail
    proc = run_locust(
        [
            *("--headless", "-u", "3", "-r", "3", "-t", "2s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--report-dir", str(report)),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # the load test itself went fine
    assert "could not be written" in proc.stderr
    assert "streams.jsonl are intact" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    summary = load_json(report / "summary.json")
    records = load_jsonl(report / "streams.jsonl")
    assert summary["overall"]["streams"] == len(records) > 0
    assert summary["run"]["interrupted"] is False
