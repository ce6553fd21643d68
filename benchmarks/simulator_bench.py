"""How many concurrent streams one simulator process sustains on one core.

For each step N: start the simulator and a gevent client process (with ``--pin``, each pinned to
its own CPU) that opens N streams of ~20 items/s each and drains them.
After the ramp, reset the simulator's scheduling-error histogram, wait a window, read it back
from ``/_flowload/stats``. The verdict per step: p99 of |actual - planned send time| <= 2 ms.

    PYTHONPATH=. python benchmarks/simulator_bench.py --steps 1000,2000,3000 --repeat 3 [--pin]

Figures are noisy on a shared machine. The columns say why: ``sim CPU`` is the share of a core
the simulator used, ``sim waiting for CPU`` the share of time it was runnable but had no CPU
(Linux schedstat). A simulator that falls behind while waiting for a CPU is starved by its
neighbours, not at its own limit; ``sim us/item`` is its own cost.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

from harness.simulator import SimulatorProcess

ROOT = Path(__file__).resolve().parent.parent
FLOW = "b0000000-0000-4000-8000-000000000000"
PROFILE = f"""
[envs.Production]
slots = 100000
queue = 0

[[flows]]
id = "{FLOW}"
name = "bench"
ttfi_ms = {{ dist = "uniform", low = 0, high = 50 }}
gap_ms = {{ dist = "uniform", low = 40, high = 60 }}
items = 1000000
item_bytes = {{ dist = "uniform", low = 80, high = 120 }}
"""
TARGET = f"/api/v1/tenants/t/workspaces/w/flows/{FLOW}/stream?env=Production"


def client_main(port: int, n: int, stagger_s: float) -> None:
    """Open ``n`` streams over ``stagger_s`` seconds and drain them until killed."""
    import gevent
    from gevent import socket

    connected = [0]
    raw = f"GET {TARGET} HTTP/1.1\r\nHost: bench\r\nx-api-key: k\r\n\r\n".encode()

    def one(i: int) -> None:
        gevent.sleep(stagger_s * i / n)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(raw)
        connected[0] += 1
        while sock.recv(65536):
            pass

    lets = [gevent.spawn(one, i) for i in range(n)]
    while connected[0] < n and not any(g.dead for g in lets):
        gevent.sleep(0.05)
    print("ready" if connected[0] == n else f"failed {connected[0]}", flush=True)
    gevent.joinall(lets)


def _stats(port: int, method: str = "GET") -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = "/_flowload/stats" + ("/reset" if method == "POST" else "")
    conn.request(method, path)
    data = conn.getresponse().read()
    conn.close()
    result: dict[str, Any] = orjson.loads(data)
    return result


def _runq_wait_s(pid: int) -> float:
    """Seconds the process spent runnable but waiting for a CPU (Linux schedstat; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text(encoding="ascii").split()
    except OSError:
        return 0.0
    return int(fields[1]) / 1e9


def _cpu(proc: psutil.Process) -> tuple[float, float]:
    t = proc.cpu_times()
    return float(t.user), float(t.system)


def run_step(
    profile: Path, n: int, window_s: float, stagger_s: float, *, pin: bool, repeat: int
) -> dict[str, Any]:
    """One step: N streams, measured over ``window_s`` after the ramp."""
    cpus = sorted(os.sched_getaffinity(0)) if pin else []
    with SimulatorProcess(["--profile", str(profile), "--limit", "3600"]) as sim:
        if sim.proc is None:
            raise RuntimeError("simulator not started")
        if cpus:
            os.sched_setaffinity(sim.proc.pid, {cpus[0]})
        port = int(sim.url.rsplit(":", 1)[1])
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, __file__, "--client", str(port), str(n), str(stagger_s)]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        try:
            if cpus:
                os.sched_setaffinity(client.pid, {cpus[-1]})
            line = client.stdout.readline().strip() if client.stdout else ""
            if line != "ready":
                return {"streams": n, "error": f"client: {line or 'died'}"}
            time.sleep(1.0)  # let the last streams reach their steady rate
            windows = [_window(port, sim.proc.pid, client.pid, window_s) for _ in range(repeat)]
        finally:
            client.kill()
            client.wait()
    p99s = sorted(w["err_p99_ms"] for w in windows)
    return {
        "streams": n,
        "active": windows[-1]["active"],
        "items_per_s": round(statistics.median(w["items_per_s"] for w in windows)),
        "err_p50_ms": round(statistics.median(w["err_p50_ms"] for w in windows), 3),
        "err_p99_ms_median": round(statistics.median(p99s), 3),
        "err_p99_ms_best": p99s[0],
        "err_p99_ms_all": p99s,
        "err_max_ms": max(w["err_max_ms"] for w in windows),
        "sim_cpu": round(statistics.median(w["sim_cpu"] for w in windows), 2),
        "sim_sys_cpu": round(statistics.median(w["sim_sys_cpu"] for w in windows), 2),
        "client_cpu": round(statistics.median(w["client_cpu"] for w in windows), 2),
        "sim_runq_wait": round(statistics.median(w["sim_runq_wait"] for w in windows), 2),
        "sim_us_per_item": round(
            1e6 * statistics.median(w["sim_cpu"] / max(w["items_per_s"], 1.0) for w in windows), 1
        ),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _window(port: int, sim_pid: int, client_pid: int, window_s: float) -> dict[str, Any]:
    """Reset the simulator's histogram, wait, read it back with CPU use over the window."""
    sp, cp = psutil.Process(sim_pid), psutil.Process(client_pid)
    before = _stats(port, "POST")
    c0, k0, t0 = _cpu(sp), _cpu(cp), time.perf_counter()
    w0 = _runq_wait_s(sim_pid)
    time.sleep(window_s)
    after = _stats(port)
    dt = time.perf_counter() - t0
    c1, k1 = _cpu(sp), _cpu(cp)
    w1 = _runq_wait_s(sim_pid)
    err = after["sched_error_ms"]
    return {
        "active": after["streams_active"],
        "items_per_s": (after["items_sent"] - before["items_sent"]) / dt,
        "err_p50_ms": err["p50"],
        "err_p99_ms": err["p99"],
        "err_max_ms": err["max"],
        "sim_cpu": round((sum(c1) - sum(c0)) / dt, 2),
        "sim_sys_cpu": round((c1[1] - c0[1]) / dt, 2),
        "client_cpu": round((sum(k1) - sum(k0)) / dt, 2),
        "sim_runq_wait": round((w1 - w0) / dt, 2),
    }


def main() -> None:
    """Run the steps and print one JSON line per step, then a summary table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="500,1000,2000,3000", help="concurrent streams per step")
    ap.add_argument("--window", type=float, default=4.0, help="seconds per measured window")
    ap.add_argument("--stagger", type=float, default=2.0, help="seconds to open the streams")
    ap.add_argument("--repeat", type=int, default=3, help="measured windows per step")
    ap.add_argument("--pin", action="store_true", help="pin simulator and client to separate CPUs")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "bench.toml"
        profile.write_text(PROFILE, encoding="utf-8")
        for n in (int(s) for s in args.steps.split(",")):
            row = run_step(profile, n, args.window, args.stagger, pin=args.pin, repeat=args.repeat)
            print(orjson.dumps(row).decode(), flush=True)
            rows.append(row)
    print(f"\ncpus: {os.cpu_count()}, load avg: {os.getloadavg()}")
    print(
        "| streams | items/s | error p50 ms | error p99 ms median (best) | max ms | sim CPU (sys) "
        "| sim us/item | sim waiting for CPU | client CPU | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['streams']} | {r['error']} |")
            continue
        print(
            f"| {r['streams']} | {r['items_per_s']} | {r['err_p50_ms']} "
            f"| {r['err_p99_ms_median']} ({r['err_p99_ms_best']}) | {r['err_max_ms']} "
            f"| {r['sim_cpu']} ({r['sim_sys_cpu']}) | {r['sim_us_per_item']} "
            f"| {r['sim_runq_wait']} | {r['client_cpu']} | {r['load_avg_1m']} |"
        )


if __name__ == "__main__":
    main()
