"""Items/s and gap error with 1, 2 and 4 Locust worker processes (master + workers, loopback).

For each worker count W: a fresh simulator (pinned to the first CPU when pinning) serves paced
NDJSON streams (exact schedule: ``--gap-ms`` between items, one item per write); Locust runs
``locustfiles/flow_stream.py`` as ``--master`` plus W ``--worker`` processes (not pinned: they
share the machine's CPUs) with ``--users`` users in all. After the ramp, the simulator's item
counter is read over a window (items it could send, i.e. that the clients read: a client that
falls behind fills its socket buffer and holds the simulator back), with the workers' CPU.
summary.json (whole run) gives flowload's own view: items/s, the gap error (ITL p50 and p99 minus
the planned gap) and the generator-health verdict per worker.

    PYTHONPATH=. python benchmarks/distributed.py [--quick] [--users 1500] [--gap-ms 20]

Writes ``benchmarks/results/distributed.json``. On a 2-CPU machine the simulator, the master
and the workers share two cores, so more workers can't multiply anything: the table says how
close the machine gets and what the extra processes cost, not what a real cluster would do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
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
PROFILE = ROOT / "benchmarks" / "fidelity_profile.toml"
LOCUSTFILE = ROOT / "locustfiles" / "flow_stream.py"
RESULTS = ROOT / "benchmarks" / "results" / "distributed.json"
FLOW = "f1de1170-0000-4000-8000-00000000000a"
KEY = "distributed-bench-key-1"
# Past this, the simulator (one core) could not send on time: the workers' figures are moot.
SIM_ON_TIME_MS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sim_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/_flowload/stats")
    data = conn.getresponse().read()
    conn.close()
    result: dict[str, Any] = orjson.loads(data)
    return result


def _scenario(url: str, args: argparse.Namespace) -> str:
    return f"""
[target]
url = "{url}"
tenant = "acme"
workspace = "bench"
api_key_env = "DIST_KEY"

[[envs]]
name = "Production"

[[flows]]
name = "paced"
id = "{FLOW}"
method = "GET"
format = "ndjson"
headers = {{ "x-flowload-items" = "{args.items}", "x-flowload-ttfi-ms" = "50", \
"x-flowload-gap-ms" = "{args.gap_ms}" }}
"""


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        t = p.cpu_times()
        total += t.user + t.system
    return total


def run_step(workers: int, args: argparse.Namespace, sim_cpu: int | None) -> dict[str, Any]:
    """One worker count: master + W workers for the run; window measured on the simulator."""
    with (
        tempfile.TemporaryDirectory(prefix="distributed-") as tmp_name,
        SimulatorProcess(["--profile", str(PROFILE), "--limit", "3600"], api_key=KEY) as sim,
    ):
        tmp = Path(tmp_name)
        if sim.proc is not None and sim_cpu is not None:
            os.sched_setaffinity(sim.proc.pid, {sim_cpu})
        sim_port = int(sim.url.rsplit(":", 1)[1])
        scenario = tmp / "scenario.toml"
        scenario.write_text(_scenario(sim.url, args), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env |= {"PYTHONPATH": str(ROOT), "DIST_KEY": KEY}
        port = str(_free_port())
        ramp = max(1.0, args.users / 500)
        run_s = ramp + args.settle + args.window + 2
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
        master_cmd = [
            *base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--headless", "-u", str(args.users), "-r", str(round(args.users / ramp)),
            "-t", f"{run_s:.0f}s", "--expect-workers", str(workers), "--stop-timeout", "0",
            "--flow-config", str(scenario), "--report-dir", str(tmp / "report"),
        ]  # fmt: skip
        worker_cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", port]
        log = (tmp / "master.log").open("wb")
        master = subprocess.Popen(
            master_cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        procs = [
            subprocess.Popen(
                worker_cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        try:
            return _measure(workers, args, master, procs, sim_port=sim_port, tmp=tmp)
        finally:
            for p in [master, *procs]:
                if p.poll() is None:
                    p.kill()
                p.wait()
            log.close()


def _measure(
    workers: int,
    args: argparse.Namespace,
    master: subprocess.Popen[bytes],
    procs: list[subprocess.Popen[bytes]],
    *,
    sim_port: int,
    tmp: Path,
) -> dict[str, Any]:
    # The master starts the test once every worker connected (a few seconds of imports).
    deadline = time.monotonic() + 120
    log = tmp / "master.log"
    while b"All users spawned" not in log.read_bytes():
        if time.monotonic() > deadline or master.poll() is not None:
            return {"workers": workers, "error": log.read_text("utf-8", "replace")[-1500:]}
        time.sleep(0.1)
    time.sleep(args.settle)
    ps = [psutil.Process(p.pid) for p in procs]
    load0 = os.getloadavg()[0]
    s0, w0, c0, m0 = (
        _sim_stats(sim_port),
        time.perf_counter(),
        _cpu(ps),
        _cpu([psutil.Process(master.pid)]),
    )
    time.sleep(args.window)
    s1, w1, c1, m1 = (
        _sim_stats(sim_port),
        time.perf_counter(),
        _cpu(ps),
        _cpu([psutil.Process(master.pid)]),
    )
    load1 = os.getloadavg()[0]
    master.wait(timeout=120)
    wall = w1 - w0
    row: dict[str, Any] = {
        "workers": workers,
        "users": args.users,
        "demand_items_per_s": args.users * 1000 / args.gap_ms,
        "items_per_s": (s1["items_sent"] - s0["items_sent"]) / wall,
        "workers_cpu": (c1 - c0) / wall,
        "master_cpu": (m1 - m0) / wall,
        "sim_sched_error_p99_ms": (s1.get("sched_error_ms") or {}).get("p99"),
        "load": [round(load0, 2), round(load1, 2)],
    }
    summary_path = tmp / "report" / "summary.json"
    if summary_path.exists():
        summary = orjson.loads(summary_path.read_bytes())
        overall = summary["overall"]
        row["summary_items_per_s"] = overall["items_per_s"]
        row["summary_itl_p50_minus_gap_ms"] = overall["itl_ms"]["p50"] - args.gap_ms
        row["summary_itl_p99_minus_gap_ms"] = overall["itl_ms"]["p99"] - args.gap_ms
        row["lost_workers"] = summary["run"].get("lost_workers")
        row["generator_saturated"] = summary["run"].get("generator_saturated")
        row["summary_workers"] = summary["run"].get("workers")
    return row


def _ms(r: dict[str, Any], key: str) -> str:
    value = r.get(key)
    return "-" if value is None else f"{value:.2f}"


def _cells(r: dict[str, Any]) -> list[str]:
    sched = r["sim_sched_error_p99_ms"]
    return [
        str(r["workers"]), str(r["users"]), f"{r['demand_items_per_s']:,.0f}",
        f"{r['items_per_s']:,.0f}", f"{r['workers_cpu']:.2f}", f"{r['master_cpu']:.2f}",
        "-" if sched is None else f"{sched:.2f}",
        f"{_ms(r, 'summary_itl_p50_minus_gap_ms')} / {_ms(r, 'summary_itl_p99_minus_gap_ms')}",
        str(r.get("generator_saturated")), f"{r['load'][0]}-{r['load'][1]}",
    ]  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    """Markdown table."""
    header = (
        "workers", "users", "demand items/s", "items/s", "workers CPU", "master CPU",
        "sim sched p99 ms", "gap error p50 / p99 ms", "saturated", "load",
    )  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for r in rows:
        if "error" in r:
            print(f"| {r['workers']} | failed: {r['error'][-200:]!r} |")
        else:
            print("| " + " | ".join(_cells(r)) + " |")
    late = [r for r in rows if (r.get("sim_sched_error_p99_ms") or 0) > SIM_ON_TIME_MS]
    if late:
        worst = max(r["sim_sched_error_p99_ms"] for r in late)
        print(
            f"\nNOT VALID: the simulator missed its own schedule (p99 up to {worst:.0f} ms > "
            f"{SIM_ON_TIME_MS} ms) in {len(late)} row(s): those rows measure the server, not the "
            "workers. Lower --users (or raise --gap-ms), or run on a quieter machine."
        )


def main() -> None:
    """Run 1, 2 and 4 workers (or --workers), print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--gap-ms", type=int, default=20, help="ms between items (50 items/s)")
    parser.add_argument("--items", type=int, default=200, help="items per stream")
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.users, args.window, args.items = 300, 3.0, 100
    cpus = sorted(os.sched_getaffinity(0))
    sim_cpu = cpus[0] if args.pin and len(cpus) > 1 else None
    rows = []
    for w in (int(x) for x in args.workers.split(",")):
        row = run_step(w, args, sim_cpu)
        print(f"# {json.dumps(row)[:300]}", file=sys.stderr, flush=True)
        rows.append(row)
    print_table(rows)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    payload = {"machine": machine, "args": vars(args) | {"out": str(args.out)}, "rows": rows}
    payload["ended"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
