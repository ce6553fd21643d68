"""Headless master + workers with ``--stop-timeout``: streams that finish during it are kept.

At ``--run-time`` a headless master tells its workers to quit and stops listening half a second
later; each worker first lets its streams finish (up to ``--stop-timeout``), then reports. The
master must still take those reports: every stream the server completed is in the summary, and
no worker counts as lost.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    free_port,
    load_json,
    load_jsonl,
    locust_command,
    locust_env,
    scenario_file,
)

# 9 s per stream, the test stops at 3 s: every stream ends ~6 s after the master was told to
# quit, longer than any fixed grace period the master might give its workers.
FLOW = """
[[flows]]
name = "slow"
id = "{orders}"
headers = {{ "x-flowload-items" = "12", "x-flowload-ttfi-ms" = "200", "x-flowload-gap-ms" = "800" }}
"""


def test_streams_finishing_in_the_stop_timeout_are_kept(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    scenario = scenario_file(tmp_path, simulator.url, FLOW.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    port = str(free_port())
    env = locust_env({"E2E_FLOW_KEY": E2E_KEY})
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--headless", "-u", "4", "-r", "4", "-t", "3s", "--expect-workers", "2"]
    master_args += ["--stop-timeout", "20", "--flow-config", str(scenario)]
    master_args += ["--report-dir", str(report), "--flow-spawn-spread", "0"]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    started = time.perf_counter()
    master = subprocess.Popen(
        locust_command(*master_args), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            locust_command(*worker_args),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        out, err = master.communicate(timeout=90)
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert time.perf_counter() - started < 60
    assert master.returncode == 0, err[-3000:]
    run = load_json(report / "summary.json")["run"]
    assert run["lost_workers"] == [], (run, out[-2000:])
    assert run["degraded"] is False, run
    assert run["cancelled_streams"] == 0, run
    records = load_jsonl(report / "streams.jsonl")
    served = load_jsonl(tmp_path / "server.jsonl")
    # Every stream the server completed was measured, the last ones included (they ended after
    # the master had stopped listening).
    completed = {r["job_id"] for r in served if r["outcome"] == "ok"}
    assert {r["job_id"] for r in records} == completed
    assert len(records) == 4
    assert len({r["worker"] for r in records}) == 2
    last_end = max(r["t"] + r["duration_ms"] / 1000 for r in records)
    first_start = min(r["t"] for r in records)
    assert last_end - first_start > 8.0, "no stream finished during the stop timeout"
