"""The README's quick start, run as written: it ends clean (no stream cut, nothing unmeasured).

Without ``--stop-timeout`` a single process lets the streams in flight at the end of the run
time finish (up to the server's limit + 10 s); ``--stop-timeout 0`` and Ctrl-C still cut them.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from pathlib import Path

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    REPO,
    load_json,
    locust_command,
    locust_env,
    run_locust,
    scenario_file,
)

# Streams of about 6 s: longer than the runs below, so the run time always ends mid-stream.
SLOW = """
[[flows]]
name = "slow"
id = "{orders}"
headers = {{ "x-flowload-items" = "12", "x-flowload-ttfi-ms" = "100", "x-flowload-gap-ms" = "500" }}
"""


def readme_quick_start() -> list[str]:
    """The Locust arguments of the README's quick-start command (after the locustfile)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    command = next(part for part in block.split("&&") if "locust -f" in part)
    words = shlex.split(command)
    return words[words.index("locustfiles/flow_stream.py") + 1 :]


def test_the_readme_quick_start_ends_clean(tmp_path: Path) -> None:
    args = readme_quick_start()
    assert args == ["--headless", "-u", "10", "-r", "10", "-t", "20s"]
    started = time.perf_counter()
    proc = run_locust(args, cwd=tmp_path)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "still running" not in proc.stdout
    (run_dir,) = (tmp_path / "reports").iterdir()
    summary = load_json(run_dir / "summary.json")
    assert summary["run"]["cancelled_streams"] == 0
    assert summary["run"]["interrupted"] is False
    for name in ("summary.json", "streams.jsonl", "report.html", "summary.md", "stats.csv"):
        assert (run_dir / name).is_file(), name
    assert f"flowload: reports in reports/{run_dir.name}" in proc.stdout
    assert elapsed < 20 + 30, elapsed  # the simulator's streams end within seconds


def _slow_run(
    tmp_path: Path, simulator: SimulatorProcess, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object], float]:
    scenario = scenario_file(tmp_path, simulator.url, SLOW.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    started = time.perf_counter()
    proc = run_locust(
        ["--headless", "-u", "3", "-r", "3", "-t", "2s", "--flow-spawn-spread", "0",
         "--flow-config", str(scenario), "--report-dir", str(report), *args],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
    )  # fmt: skip
    run = load_json(report / "summary.json")["run"]
    return proc, run, time.perf_counter() - started


def test_streams_in_flight_finish_by_default(tmp_path: Path, simulator: SimulatorProcess) -> None:
    proc, run, _ = _slow_run(tmp_path, simulator)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run["cancelled_streams"] == 0
    assert "waiting up to 310 s for 3 stream(s) in flight to finish" in proc.stderr
    assert "still running" not in proc.stdout


def test_an_explicit_stop_timeout_0_still_cuts_them(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    proc, run, elapsed = _slow_run(tmp_path, simulator, "--stop-timeout", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run["cancelled_streams"] == 3
    assert "3 stream(s) were still running when the test stopped" in proc.stdout
    assert elapsed < 2 + 15


def test_ctrl_c_cuts_the_streams_at_once(tmp_path: Path, simulator: SimulatorProcess) -> None:
    scenario = scenario_file(tmp_path, simulator.url, SLOW.format(orders=FLOWS["orders-export"]))
    command = locust_command(
        "--headless", "-u", "3", "-r", "3", "-t", "60s", "--flow-config", str(scenario),
        "--report-dir", str(tmp_path / "report"),
    )  # fmt: skip
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=locust_env({"E2E_FLOW_KEY": E2E_KEY}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4.0)
    interrupted_at = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.perf_counter() - interrupted_at < 5.0, err[-3000:]
    run = load_json(tmp_path / "report" / "summary.json")["run"]
    assert run["interrupted"] is True
    assert run["cancelled_streams"] >= 1
    assert "still running" in out
