"""A worker whose CPU is saturated still sends its heartbeat: the master must not lose it.

A Locust worker sends a heartbeat every second from its own greenlet; the master marks a worker
``missing`` after three silent checks (about 4 s) and moves its users elsewhere. A stream
greenlet that keeps reading while its socket always has data never gives the event loop a
turn, so a worker fed faster than it can decode would go silent for as long as a stream lasts.

Here a server sends streams of 5 M one-digit items in 64 KiB chunks: sending one costs it next
to nothing, while the client needs seconds to frame and count its items, so the client's socket
is never empty. One worker shares its CPU with a busy-loop process, the other shares a CPU with
the master. The run is flagged as saturated (it should be); no worker may be marked missing,
and every worker's last report must reach the master although it comes late.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from subprocess import Popen
from typing import IO, Any

import pytest

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
from tests.servers import ScriptedServer, Send, Step, response_head

RUN_S = 12
# 64 KiB of the items ``1,1,1,...``: 32,768 items per chunk.
BLOCK = b"1," * 32_768
# 5.2 M items: reading one stream without a pause takes longer than the master's patience
# (~4 s) on half a CPU of this machine; the bytes (10 MB) cost the server almost nothing.
STREAM_CHUNKS = 160
HOG_MAX_S = 90  # the busy loop stops by itself even if this test dies

FLOW = """
[[flows]]
name = "firehose"
id = "{orders}"
"""

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="needs Linux CPU affinity to saturate a worker"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _firehose() -> list[Step]:
    """A chunked JSON array of STREAM_CHUNKS x 32,768 one-digit items, sent back to back."""
    head = response_head(
        200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    )
    middle = Send(0.0, _chunk(BLOCK))  # one object, sent many times: no per-chunk copies
    return [
        Send(0.0, head),
        Send(0.0, _chunk(b"[" + BLOCK)),
        *([middle] * (STREAM_CHUNKS - 2)),
        Send(0.0, _chunk(BLOCK + b"1]")),
        Send(0.0, b"0\r\n\r\n"),
    ]


def _cpus() -> tuple[int, int]:
    """(CPU for the master and the second worker, CPU for the saturated worker and the hog)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[-1]


def _start_hog(cpu: int) -> Popen[bytes]:
    code = f"import time\nend = time.monotonic() + {HOG_MAX_S}\nwhile time.monotonic() < end: pass"
    hog = subprocess.Popen([sys.executable, "-c", code])
    os.sched_setaffinity(hog.pid, {cpu})
    return hog


def _spawn(args: list[str], cwd: Path, log: IO[str], cpu: int) -> Popen[str]:
    env = locust_env({"E2E_FLOW_KEY": E2E_KEY})
    proc = subprocess.Popen(
        locust_command(*args), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    os.sched_setaffinity(proc.pid, {cpu})
    return proc


def _reap(procs: list[Popen[Any]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _run(tmp_path: Path, url: str) -> tuple[int, str]:
    """Master + 2 workers, one of them sharing its CPU with a busy loop; (exit code, master log)."""
    scenario = scenario_file(tmp_path, url, FLOW.format(orders=FLOWS["orders-export"]))
    port = str(free_port())
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--headless", "-u", "2", "-r", "2", "-t", f"{RUN_S}s", "--expect-workers"]
    master_args += ["2", "--stop-timeout", "0", "--flow-config", str(scenario)]
    master_args += ["--report-dir", str(tmp_path / "report"), "--flow-spawn-spread", "0"]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    shared_cpu, busy_cpu = _cpus()
    master_log = tmp_path / "master.log"
    with master_log.open("w") as mlog, (tmp_path / "workers.log").open("w") as wlog:
        hog = _start_hog(busy_cpu)
        master = _spawn(master_args, tmp_path, mlog, shared_cpu)
        workers = [
            _spawn(worker_args, tmp_path, wlog, busy_cpu),
            _spawn(worker_args, tmp_path, wlog, shared_cpu),
        ]
        try:
            code = master.wait(timeout=RUN_S + 40)
        finally:
            _reap([hog, master, *workers])
    return code, master_log.read_text("utf-8", "replace")


def test_saturated_worker_keeps_its_heartbeat(tmp_path: Path) -> None:
    started = time.perf_counter()
    with ScriptedServer(_firehose()) as server:
        code, log = _run(tmp_path, server.url().rstrip("/"))
    assert time.perf_counter() - started < 60
    missing = [line for line in log.splitlines() if "heartbeat" in line or "missing" in line]
    assert missing == [], "\n".join(missing)
    assert code == 0, log[-3000:]
    summary = load_json(tmp_path / "report" / "summary.json")
    run = summary["run"]
    assert run["workers"] == 2, run
    assert run["lost_workers"] == [], run
    assert run["degraded"] is False, run
    # The load was real, and it is reported: the generator was saturated, each worker wanted
    # its CPU (running or ready to run) most of the time, and one shared it with the busy loop.
    assert run["generator_saturated"] is True, run["generator"]
    workers = run["generator"]["workers"].values()
    assert all(w["cpu_pct_p50"] + w["cpu_wait_pct_p50"] >= 80.0 for w in workers), workers
    assert max(w["cpu_wait_pct_p50"] for w in workers) >= 25.0, workers
    assert "WARNING: the load generator was saturated" in log
    records = load_jsonl(tmp_path / "report" / "streams.jsonl")
    assert summary["overall"]["streams"] == len(records) > 0
