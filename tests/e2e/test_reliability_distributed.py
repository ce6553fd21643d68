"""A worker killed with SIGKILL mid-run: the master finishes, names it, keeps what it reported."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path
from subprocess import Popen

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

FLOW = """
[[flows]]
name = "paced"
id = "{orders}"
headers = {{ "x-flowload-items" = "4", "x-flowload-ttfi-ms" = "50", "x-flowload-gap-ms" = "30" }}

[[gates]]
expr = "ttfi.p95 < 5000ms"
"""


def _worker_ids(records_path: Path) -> Counter[str]:
    if not records_path.is_file():
        return Counter()
    return Counter(r["worker"] for r in load_jsonl(records_path))


def _wait_for_both_workers(records_path: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if len(_worker_ids(records_path)) == 2:
            return
        time.sleep(0.2)
    raise AssertionError(f"records from two workers never arrived: {_worker_ids(records_path)}")


def _start(tmp_path: Path, url: str, seconds: int) -> tuple[Popen[str], list[Popen[str]]]:
    """A master expecting two workers, and the two workers."""
    scenario = scenario_file(tmp_path, url, FLOW.format(orders=FLOWS["orders-export"]))
    port = str(free_port())
    env = locust_env({"E2E_FLOW_KEY": E2E_KEY})
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--headless", "-u", "6", "-r", "6", "-t", f"{seconds}s"]
    master_args += ["--expect-workers", "2", "--stop-timeout", "5", "--flow-config", str(scenario)]
    master_args += ["--report-dir", str(tmp_path / "report")]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    master = subprocess.Popen(
        locust_command(*master_args),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            locust_command(*worker_args),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    return master, workers


def _reap(master: Popen[str], workers: list[Popen[str]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
    if master.poll() is None:
        master.kill()


def test_master_survives_a_killed_worker(tmp_path: Path, simulator: SimulatorProcess) -> None:
    report = tmp_path / "report"
    master, workers = _start(tmp_path, simulator.url, 10)
    started = time.perf_counter()
    try:
        _wait_for_both_workers(report / "streams.jsonl", 30)
        time.sleep(1.5)  # a few more reports (every 3 s) from both
        before_kill = _worker_ids(report / "streams.jsonl")
        workers[0].kill()  # SIGKILL: no goodbye, no final report
        out, err = master.communicate(timeout=90)
    finally:
        _reap(master, workers)
    assert time.perf_counter() - started < 60, "the master hung waiting for the lost worker"
    assert "Traceback" not in err, err[-3000:]
    summary = load_json(report / "summary.json")
    records = load_jsonl(report / "streams.jsonl")
    run = summary["run"]
    assert run["degraded"] is True, run
    assert len(run["lost_workers"]) == 1, run
    lost = run["lost_workers"][0]
    per_worker = Counter(r["worker"] for r in records)
    # The lost worker's streams up to its last report are kept (none after it).
    assert lost in per_worker, (lost, per_worker)
    assert per_worker[lost] >= before_kill[lost] > 0
    survivor = next(w for w in per_worker if w != lost)
    assert per_worker[survivor] > before_kill[survivor]
    assert summary["overall"]["streams"] == len(records)
    assert f"worker(s) lost before their final report: ['{lost}']" in out
    # A gate that would pass is inconclusive on a degraded run: exit code 5, not a green build.
    assert summary["gates"], summary["gates"]
    assert master.returncode == 5, err[-3000:]


def _wait_for_server_requests(log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if log.is_file() and log.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise AssertionError("the workers never sent a request")


def test_a_worker_killed_before_its_first_report_is_named(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    master, workers = _start(tmp_path, simulator.url, 6)
    try:
        # Streams have started, and no worker has reported yet (reports come every 3 s).
        _wait_for_server_requests(tmp_path / "server.jsonl", 30)
        workers[0].kill()
        out, err = master.communicate(timeout=90)
    finally:
        _reap(master, workers)
    assert "Traceback" not in err, err[-3000:]
    summary = load_json(tmp_path / "report" / "summary.json")
    run = summary["run"]
    assert run["degraded"] is True, run
    assert len(run["lost_workers"]) == 1, run
    assert run["workers"] == 2, run
    assert run["host"].startswith("http://127.0.0.1:"), run  # the master names the target too
    records = load_jsonl(tmp_path / "report" / "streams.jsonl")
    assert run["lost_workers"][0] not in {r["worker"] for r in records}
    assert summary["overall"]["streams"] == len(records) > 0  # the survivor's streams
    assert "worker(s) lost before their final report" in out
