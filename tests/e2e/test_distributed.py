"""Locust's master/worker mode: workers ship stats deltas and records; the master merges."""

from __future__ import annotations

import math
import subprocess
from collections import Counter
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

FLOW = """
[[flows]]
name = "paced"
id = "{orders}"
headers = {{ "x-flowload-items" = "5", "x-flowload-ttfi-ms" = "150", "x-flowload-gap-ms" = "40" }}
"""


def _hdr_rank(values: list[float], q: float) -> float:
    """The sample HdrHistogram reports at quantile ``q``: rank round(q * n), at least 1."""
    ordered = sorted(values)
    return ordered[max(1, int(q * len(ordered) + 0.5)) - 1]


def test_master_merges_two_workers(tmp_path: Path, simulator: SimulatorProcess) -> None:
    scenario = scenario_file(tmp_path, simulator.url, FLOW.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    port = str(free_port())
    env = locust_env({"E2E_FLOW_KEY": E2E_KEY})
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--headless", "-u", "6", "-r", "6", "-t", "5s", "--expect-workers", "2"]
    master_args += ["--stop-timeout", "5", "--flow-config", str(scenario)]
    master_args += ["--report-dir", str(report)]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
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
    assert master.returncode == 0, err[-3000:]
    summary = load_json(report / "summary.json")
    records = load_jsonl(report / "streams.jsonl")
    per_worker = Counter(r["worker"] for r in records)
    assert summary["run"]["workers"] == 2
    assert len(per_worker) == 2, per_worker
    assert all(n > 0 for n in per_worker.values()), per_worker
    assert summary["overall"]["streams"] == sum(per_worker.values()) == len(records)
    assert summary["run"]["degraded"] is False
    assert summary["overall"]["items"] == sum(r["items"] for r in records)
    # Percentiles of the merged histograms equal those of the union of samples (3 digits).
    ttfi = [r["ttfi_ms"] for r in records]
    durations = [r["duration_ms"] for r in records]
    for values, block in (
        (ttfi, summary["overall"]["ttfi_ms"]),
        (durations, summary["overall"]["duration_ms"]),
    ):
        for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
            expected = _hdr_rank(values, q)
            assert math.isclose(block[key], expected, rel_tol=2e-3, abs_tol=0.01), (
                key,
                block,
                expected,
            )
        assert math.isclose(block["max"], max(values), abs_tol=0.002)
    assert "flowload streaming summary" in out
