"""Measurement fidelity: flowload (real Locust user) vs the usual locustfile, on a known schedule.

For each step a fresh simulator process (pinned to one CPU) serves streams with an exact schedule
(``x-flowload-items`` / ``-ttfi-ms`` / ``-gap-ms``: first item 100 ms after the request, then one
item every 50 ms = 20 items/s, one item per write, NDJSON) and logs when it really sent each item.
Locust runs headless in a subprocess pinned to the other CPU with N users, each running streams
back to back. A step is ``KIND[+MOD...]:N``:

- ``ours``: ``benchmarks/fidelity_locustfile.py`` = flowload's ``FlowStreamUser`` (kernel receive
  stamps where granted), plus one list append per stream that keeps every gap for this benchmark;
- ``user``: the same with ``--timestamps user`` (user-space receipt times, as before stamps);
- ``batched``: ``ours`` with ``--flow-spawn-spread 0`` (Locust's once-a-second batches);
- ``baseline``: ``benchmarks/baseline/locustfile.py`` (HttpUser, stream=True, iter_lines,
  json.loads, time.time() per line);
- ``+hog``: a CPU-bound process pinned to the client's CPU for the whole step;
- ``+heavy``: 3 streams in 1,000 are heavy (four dense 1 MiB items, 12,000 rows each, 100 ms
  apart), mixed into the paced ones (not scored themselves).

After the ramp, ``--repeat`` windows of ``--window`` seconds are scored: every paced gap whose
later item arrived in the window, against the schedule (50 ms) and against the simulator's logged
actual sends (the harness's own error). The simulator's own scheduling error (|actual - planned|
send, from ``/_flowload/stats``) is part of the error against the schedule: a client cannot be
more exact than its server. The row also shows flowload's own view from summary.json: delivery
lag, the share of items whose error bound exceeds 1 ms, and the run's verdict.

    PYTHONPATH=. python benchmarks/fidelity.py [--quick] [--plan ours:1000,ours+hog:1000,...]
        [--keep DIR (raw timings and Locust's log per step)]

Writes ``benchmarks/results/fidelity.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from fidelity_score import (  # this directory: the script's own
    Stream,
    load_baseline,
    load_ours,
    print_table,
    score,
    server_sends,
    verdicts,
)

from harness.simulator import SimulatorProcess

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
PROFILE = BENCH / "fidelity_profile.toml"
RESULTS = BENCH / "results" / "fidelity.json"
FLOWS = {
    "ndjson": "f1de1170-0000-4000-8000-00000000000a",
    "json": "f1de1170-0000-4000-8000-00000000000b",
}
TTFI_MS = 100.0
GAP_MS = 50.0
KEY = "fidelity-bench-key-1"


def schedule_headers(items: int) -> dict[str, str]:
    """The simulator's exact-schedule headers."""
    return {
        "x-flowload-items": str(items),
        "x-flowload-ttfi-ms": str(int(TTFI_MS)),
        "x-flowload-gap-ms": str(int(GAP_MS)),
    }


HEAVY_HEADERS = {
    "x-flowload-items": "4",
    "x-flowload-ttfi-ms": "100",
    "x-flowload-gap-ms": "100",
    "x-flowload-item-bytes": "1048576",
    "x-flowload-item-shape": "dense",
}
HEAVY_PER_1000 = 3


def _headers_toml(headers: dict[str, str]) -> str:
    return ", ".join(f'"{k}" = "{v}"' for k, v in headers.items())


def scenario_toml(url: str, items: int, fmt: str, *, heavy: bool = False) -> str:
    """A flowload scenario for the paced flow (and the heavy one) against the simulator."""
    paced_weight = 1000 - HEAVY_PER_1000 if heavy else 1
    text = f"""
[target]
url = "{url}"
tenant = "acme"
workspace = "bench"
api_key_env = "FIDELITY_KEY"
stall_timeout_s = 30

[[envs]]
name = "Production"

[[flows]]
name = "paced"
id = "{FLOWS[fmt]}"
method = "GET"
format = "{fmt}"
weight = {paced_weight}
headers = {{ {_headers_toml(schedule_headers(items))} }}
"""
    if heavy:
        text += f"""
[[flows]]
name = "heavy"
id = "{FLOWS[fmt]}"
method = "GET"
format = "{fmt}"
weight = {HEAVY_PER_1000}
headers = {{ {_headers_toml(HEAVY_HEADERS)} }}
"""
    return text


# --- running ---------------------------------------------------------------------------------
def _sim_stats(port: int, method: str = "GET") -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, "/_flowload/stats" + ("/reset" if method == "POST" else ""))
    data = conn.getresponse().read()
    conn.close()
    result: dict[str, Any] = orjson.loads(data)
    return result


def _ramp_s(n: int, args: argparse.Namespace) -> float:
    """Ramp over one stream's length by default: streams then end and restart evenly spread,
    not in bursts of N requests every stream length (which the server's TTFI would show)."""
    rate: float = args.spawn_rate
    if rate > 0:
        return max(1.0, n / rate)
    items: int = args.items
    return max(1.0, (TTFI_MS + items * GAP_MS) / 1000.0)


def _pin(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _wait_spawned(log: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if b"All users spawned" in log.read_bytes():
            return True
        time.sleep(0.1)
    return False


def _runq_wait_s(pid: int) -> float:
    """Seconds the process was runnable but waiting for a CPU (Linux schedstat; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text(encoding="ascii").split()
    except OSError:
        return 0.0
    return int(fields[1]) / 1e9


def _start_profiler(
    args: argparse.Namespace, pid: int, name: str
) -> subprocess.Popen[bytes] | None:
    """py-spy over the window (``--profile``): collapsed stacks in benchmarks/results/."""
    if not args.profile:
        return None
    out = RESULTS.parent / f"profile-{name}.txt"
    spy = Path(sys.executable).parent / "py-spy"
    cmd = [str(spy), "record", "--format", "raw", "-r", "250", "-d", str(round(args.window))]
    cmd += ["-p", str(pid), "-o", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


HOG = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def _hog(cpu: int | None, seconds: float) -> subprocess.Popen[bytes]:
    """A CPU-bound neighbour on the client's CPU (or anywhere without pinning)."""
    return subprocess.Popen(
        [sys.executable, "-c", HOG.format(s=seconds)],
        preexec_fn=_pin(cpu),  # noqa: PLW1509 - only sched_setaffinity, no locks
    )


def _locust_command(kind: str, n: int, args: argparse.Namespace, url: str, tmp: Path) -> list[str]:
    base, mods = kind.split("+", maxsplit=1)[0], kind.split("+")[1:]
    ramp_s = _ramp_s(n, args)
    common = ["--headless", "-u", str(n), "-r", str(max(1, round(n / ramp_s))), "-t", "600s"]
    if base == "baseline":
        return [
            sys.executable, "-m", "locust", "-f", str(BENCH / "baseline" / "locustfile.py"),
            *common, "--host", url,
        ]  # fmt: skip
    scenario = tmp / "scenario.toml"
    scenario.write_text(
        scenario_toml(url, args.items, "ndjson", heavy="heavy" in mods), encoding="utf-8"
    )
    cmd = [
        sys.executable, "-m", "locust", "-f", str(BENCH / "fidelity_locustfile.py"),
        *common, "--flow-config", str(scenario), "--report-dir", str(tmp / "report"),
    ]  # fmt: skip
    if base == "batched":  # Locust's batches as they come: one per second
        cmd += ["--flow-spawn-spread", "0"]
    if base == "user":
        cmd += ["--timestamps", "user"]
    return cmd


def _locust_env(kind: str, args: argparse.Namespace, out: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["PYTHONPATH"] = str(ROOT)
    if kind.startswith("baseline"):
        path = f"/api/v1/tenants/acme/workspaces/bench/flows/{FLOWS['ndjson']}/stream"
        env.update(
            BASELINE_OUT=str(out),
            BASELINE_PATH=path + "?env=Production",
            BASELINE_HEADERS=json.dumps({"x-api-key": KEY, **schedule_headers(args.items)}),
        )
    else:
        env.update(FIDELITY_OUT=str(out), FIDELITY_KEY=KEY)
    return env


def run_one(kind: str, n: int, args: argparse.Namespace, cpus: list[int]) -> dict[str, Any]:
    """One (client kind, concurrency) step against a fresh simulator."""
    sim_cpu, client_cpu = (cpus[0], cpus[-1]) if args.pin and len(cpus) > 1 else (None, None)
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp_name:
        tmp = Path(tmp_name)
        sim_args = ["--profile", str(PROFILE), "--limit", "3600", "--log", str(tmp / "sim.jsonl")]
        with SimulatorProcess(sim_args, api_key=KEY) as sim:
            args.sim_pid = sim.proc.pid if sim.proc is not None else 0
            if sim.proc is not None and sim_cpu is not None:
                os.sched_setaffinity(sim.proc.pid, {sim_cpu})
            port = int(sim.url.rsplit(":", 1)[1])
            out, log = tmp / "streams.json", tmp / "locust.log"
            hog = _hog(client_cpu, 900) if "+hog" in kind else None
            try:
                with log.open("wb") as log_file:
                    proc = subprocess.Popen(
                        _locust_command(kind, n, args, sim.url, tmp), cwd=tmp,
                        env=_locust_env(kind, args, out), stdout=log_file,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_pin(client_cpu),  # noqa: PLW1509 - affinity only, no locks
                    )  # fmt: skip
                    try:
                        return _measure(kind, n, args, proc, port=port, tmp=tmp)
                    finally:
                        if proc.poll() is None:
                            proc.kill()
                            proc.wait()
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()


@dataclass
class _Window:
    """Counters read at the start and end of one scored window."""

    w0: float
    cpu0: float
    wait0: float
    sim_wait0: float
    load0: float
    p0: float = field(default_factory=time.perf_counter)  # window length: perf_counter only
    p1: float = 0.0
    w1: float = 0.0
    cpu1: float = 0.0
    wait1: float = 0.0
    sim_wait1: float = 0.0
    load1: float = 0.0
    sim: dict[str, Any] = field(default_factory=dict)


def _windows(
    args: argparse.Namespace, ps: psutil.Process, port: int, sim_pid: int
) -> list[_Window]:
    """``--repeat`` consecutive windows; the simulator's error histogram is reset for each."""
    out = []
    for _ in range(args.repeat):
        _sim_stats(port, "POST")
        win = _Window(
            time.time(), _cpu_s(ps), _runq_wait_s(ps.pid), _runq_wait_s(sim_pid), os.getloadavg()[0]
        )
        time.sleep(args.window)
        win.w1, win.p1, win.cpu1 = time.time(), time.perf_counter(), _cpu_s(ps)
        win.wait1 = _runq_wait_s(ps.pid)
        win.sim_wait1, win.load1 = _runq_wait_s(sim_pid), os.getloadavg()[0]
        win.sim = _sim_stats(port)
        out.append(win)
    return out


def _stop(proc: subprocess.Popen[bytes], args: argparse.Namespace) -> None:
    # Streams that overlap the last window must finish to be recorded: wait one stream length.
    time.sleep(TTFI_MS / 1000 + args.items * GAP_MS / 1000 + 0.5)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _window_row(
    kind: str, n: int, win: _Window, streams: list[Stream], sends: dict[str, list[float]]
) -> dict[str, Any]:
    span = win.p1 - win.p0
    row: dict[str, Any] = {"kind": kind, "streams": n, "window_s": span}
    row.update(score(streams, sends, win.w0, win.w1))
    row["items_per_s"] = row["gaps"] / span
    row["client_cpu"] = (win.cpu1 - win.cpu0) / span
    row["client_waiting_for_cpu"] = (win.wait1 - win.wait0) / span
    row["sim_waiting_for_cpu"] = (win.sim_wait1 - win.sim_wait0) / span
    row["client_us_per_item"] = (win.cpu1 - win.cpu0) / max(row["gaps"], 1) * 1e6
    row["sim_sched_error_ms"] = win.sim.get("sched_error_ms")
    row["load_avg"] = [round(win.load0, 2), round(win.load1, 2)]
    return row


def _measure(
    kind: str,
    n: int,
    args: argparse.Namespace,
    proc: subprocess.Popen[bytes],
    *,
    port: int,
    tmp: Path,
) -> dict[str, Any]:
    log, out = tmp / "locust.log", tmp / "streams.json"
    if not _wait_spawned(log, proc, timeout_s=60 + _ramp_s(n, args) * 3):
        return {"kind": kind, "streams": n, "error": log.read_text("utf-8", "replace")[-1500:]}
    time.sleep(args.settle)
    spy = _start_profiler(args, proc.pid, f"{kind}-{n}")
    wins = _windows(args, psutil.Process(proc.pid), port, args.sim_pid)
    if spy is not None:
        spy.wait(timeout=60)
    _stop(proc, args)
    if not out.exists():
        return {"kind": kind, "streams": n, "error": log.read_text("utf-8", "replace")[-1500:]}
    streams = load_baseline(out) if kind.startswith("baseline") else load_ours(out)
    sends = server_sends(tmp / "sim.jsonl")
    if args.keep:  # raw per-stream timings, for digging into a step
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / f"{kind}-{n}.json").write_bytes(out.read_bytes())
        gc_log = Path(str(out) + ".gc")
        if gc_log.exists():
            (args.keep / f"{kind}-{n}.gc.json").write_bytes(gc_log.read_bytes())
        (args.keep / f"{kind}-{n}.log").write_bytes(log.read_bytes())
        trace = Path(str(out) + ".trace")
        if trace.exists():
            (args.keep / f"{kind}-{n}.trace.json").write_bytes(trace.read_bytes())
    rows = sorted(
        (_window_row(kind, n, w, streams, sends) for w in wins),
        key=lambda r: r["gap_abs_p99_ms"],
    )
    # The window with the median p99 represents the step; every window's p99 is kept.
    result = dict(rows[len(rows) // 2])
    result["gap_abs_p99_all_ms"] = [r["gap_abs_p99_ms"] for r in rows]
    result["windows"] = rows
    gc_file = Path(str(out) + ".gc")
    gc_pauses: list[list[float]] = orjson.loads(gc_file.read_bytes()) if gc_file.exists() else []
    for gen in (0, 1, 2):
        pauses = [p[1] for p in gc_pauses if p[0] == gen]
        result[f"gc{gen}_count"] = len(pauses)
        result[f"gc{gen}_max_ms"] = max(pauses, default=0.0) * 1000
    summary_path = tmp / "report" / "summary.json"
    if summary_path.exists():
        summary = orjson.loads(summary_path.read_bytes())
        itl = summary["overall"]["itl_ms"]
        result["summary_itl_p50_minus_gap_ms"] = itl["p50"] - GAP_MS
        result["summary_itl_p99_minus_gap_ms"] = itl["p99"] - GAP_MS
        result["summary_itl_max_minus_gap_ms"] = itl["max"] - GAP_MS
        result["generator"] = summary["run"].get("generator")
        result["generator_saturated"] = summary["run"].get("generator_saturated")
        result["error_bound"] = summary["run"].get("error_bound")
        result["clock"] = summary["run"].get("clock")
    return result


DEFAULT_PLAN = (
    "ours:1000,ours:2000,ours+hog:1000,ours+hog:2000,ours+heavy:1000,ours+heavy:2000,"
    "user:1000,user+hog:1000,baseline:1000,baseline+hog:1000"
)
QUICK_PLAN = "ours:100,ours+hog:100,user+hog:100,baseline:100"
KINDS = ("ours", "user", "batched", "baseline")
MODS = ("hog", "heavy")


def parse_plan(text: str) -> list[tuple[str, int]]:
    """``ours+hog:1000,...`` -> [("ours+hog", 1000), ...] (SystemExit naming a bad step)."""
    plan = []
    for step in filter(None, (s.strip() for s in text.split(","))):
        kind, _, count = step.partition(":")
        base, *mods = kind.split("+")
        if base not in KINDS or any(m not in MODS for m in mods) or not count.isdigit():
            raise SystemExit(f"bad step {step!r}: KIND[+hog][+heavy]:N with KIND in {KINDS}")
        plan.append((kind, int(count)))
    return plan


def main() -> None:
    """Run the steps, print the table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--plan",
        default=DEFAULT_PLAN,
        help="steps KIND[+hog][+heavy]:N, comma-separated; KIND: ours, user, batched, baseline",
    )
    parser.add_argument("--window", type=float, default=5.0, help="seconds per scored window")
    parser.add_argument("--repeat", type=int, default=3, help="scored windows per step")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds after the ramp")
    parser.add_argument("--items", type=int, default=100, help="items per stream")
    parser.add_argument(
        "--spawn-rate", type=float, default=0.0, help="users/s (default: ramp over one stream)"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--keep", type=Path, help="copy each step's raw stream timings here")
    parser.add_argument("--profile", action="store_true", help="py-spy the client over the window")
    parser.add_argument("--quick", action="store_true", help="100 and 250 streams, short windows")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.plan, args.window, args.items, args.repeat = QUICK_PLAN, 3.0, 40, 1
    cpus = sorted(os.sched_getaffinity(0))
    rows: list[dict[str, Any]] = []
    for kind, n in parse_plan(args.plan):
        row = run_one(kind, n, args, cpus)
        rows.append(row)
        print(f"# {kind} {n}: {json.dumps(row, default=str)[:400]}", file=sys.stderr, flush=True)
    print_table(rows)
    summary = verdicts(rows)
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pinned": args.pin and len(cpus) > 1,
    }
    payload = {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()}}
    payload |= {
        "rows": rows,
        "verdicts": summary,
        "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
