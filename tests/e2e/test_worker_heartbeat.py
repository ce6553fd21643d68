"""A worker whose CPU is saturated still sends its heartbeat: the master must not lose it.

A Locust worker sends a heartbeat every second from its own greenlet; the master marks a worker
``missing`` after three silent checks (about 4 s) and moves its users elsewhere. A stream
greenlet that keeps reading while its socket always has data never gives the event loop a
turn, so a worker fed faster than it can decode would go silent for as long as a stream lasts.

Here each worker runs one stream of 1 KB items, sent in 64 KiB chunks as fast as the server
can, longer than the test. One worker shares its CPU with a busy-loop process of higher priority
and cannot keep up, so its socket always has data; the other shares a CPU with the master. The
run is flagged as saturated (it should be); no worker may be marked missing, and both workers'
last reports (with the stream each was reading when the test stopped) must reach the master.
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
    locust_command,
    locust_env,
    scenario_file,
)
from tests.servers import ScriptedServer, Send, Step, response_head

RUN_S = 12
# 1 KB items, 63 to a 64 KiB chunk: few items per byte, so a stream's own bookkeeping stays
# small while its bytes keep a reader busy.
ITEM = b'{"n":1,"text":"' + b"x" * 1000 + b'"}'
BLOCK = b",".join([ITEM] * 63)
# 26 GB: more than a worker can read in the test, so each stream lasts the whole run (it is
# cancelled at the stop); the script is one chunk object repeated, not 26 GB of memory.
STREAM_CHUNKS = 400_000
HOG_MAX_S = 90  # the busy loop stops by itself even if this test dies
# The saturated worker runs at a lower priority than the busy loop beside it: it gets about a
# tenth of that CPU (a worker among noisy neighbours), far too little to keep up with the server.
BUSY_WORKER_NICE = 10

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
    """A chunked JSON array of STREAM_CHUNKS x 63 items of 1 KB, sent back to back."""
    head = response_head(
        200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    )
    middle = Send(0.0, _chunk(b"," + BLOCK))  # one object, sent many times: no copies
    return [
        Send(0.0, head),
        Send(0.0, _chunk(b"[" + BLOCK)),
        *([middle] * (STREAM_CHUNKS - 2)),
        Send(0.0, _chunk(b"," + BLOCK + b"]")),
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


def _spawn(args: list[str], cwd: Path, log: IO[str], cpu: int, nice: int = 0) -> Popen[str]:
    env = locust_env({"E2E_FLOW_KEY": E2E_KEY})
    proc = subprocess.Popen(
        locust_command(*args), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    os.sched_setaffinity(proc.pid, {cpu})
    if nice:
        os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
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
            _spawn(worker_args, tmp_path, wlog, busy_cpu, nice=BUSY_WORKER_NICE),
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
    # The load was real, and it is reported: the generator was saturated, and the worker that
    # shared its CPU with the busy loop wanted it (running or ready to run) all along.
    assert run["generator_saturated"] is True, run["generator"]
    workers = run["generator"]["workers"].values()
    busy = max(workers, key=lambda w: w["cpu_wait_pct_p50"])
    assert busy["cpu_wait_pct_p50"] >= 25.0, workers
    assert busy["cpu_pct_p50"] + busy["cpu_wait_pct_p50"] >= 80.0, workers
    assert "WARNING: the item times cannot be trusted" in log
    # Each worker was still reading its one stream at the stop: both counted, none lost.
    assert run["cancelled_streams"] == 2, run
    assert server.connections == 2
