"""Measurement fidelity: flowload (real Locust user) vs the usual locustfile, on a known schedule.

For each concurrency N: a fresh simulator process (pinned to one CPU) serves streams with an exact
schedule (``x-flowload-items`` / ``-ttfi-ms`` / ``-gap-ms``: first item 100 ms after the request,
then one item every 50 ms = 20 items/s, one item per write, NDJSON). Locust runs headless in
a subprocess pinned to the other CPU with N users, each running streams back to back:

- ``ours``: ``benchmarks/fidelity_locustfile.py`` = flowload's ``FlowStreamUser`` (transport,
  reader, measure, stats, streams.jsonl, Locust events) plus one list append per stream that keeps
  every gap for this benchmark (first streams spread over 1 s, flowload's default);
- ``ours-batched``: the same with ``--flow-spawn-spread 0``. Locust starts each second's users
  together; with streams of equal length, each batch then starts, ends and restarts its streams
  together for the whole run, and every restart's work lands on the event loop at once;
- ``baseline``: ``benchmarks/baseline/locustfile.py`` (HttpUser, stream=True, iter_lines,
  json.loads, time.time() per line).

After the ramp, a window of ``--window`` seconds is scored: every gap whose later item arrived in
the window. Gap error = measured gap - 50 ms (planned); TTFI error = measured TTFI - 100 ms for
streams started in the window. The table gives p50/p99/max of |error|, the signed p99, the client's
CPU (share of one core, psutil over the window) and the simulator's own scheduling error
(|actual - planned send|, from ``/_flowload/stats`` over the same window), which is *part of* the
measured error: a client can't be more exact than its server. ``sum ITL p99-50`` is flowload's own
summary.json view of the same run (whole run, ramp included): with an exact schedule, the
summary's ITL percentiles minus 50 ms ARE the (signed) gap-error percentiles.

    PYTHONPATH=. python benchmarks/fidelity.py [--quick] [--steps 100,250] [--baseline-steps 100]
        [--batched-steps 500,1000] [--keep DIR (raw timings, GC pauses, Locust's log per step)]

Writes ``benchmarks/results/fidelity.json``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
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


def scenario_toml(url: str, items: int, fmt: str) -> str:
    """A flowload scenario for one paced flow against the simulator at ``url``."""
    headers = ", ".join(f'"{k}" = "{v}"' for k, v in schedule_headers(items).items())
    return f"""
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
headers = {{ {headers} }}
"""


# --- scoring ---------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def score(
    streams: list[tuple[float, float | None, list[float]]], w0: float, w1: float
) -> dict[str, Any]:
    """Gap and TTFI errors (ms) of streams given as (start wall s, ttfi s, gaps s)."""
    gap_err: list[float] = []
    ttfi_err: list[float] = []
    for start, ttfi, gaps in streams:
        if ttfi is None:
            continue
        t = start + ttfi
        if w0 <= start <= w1:
            ttfi_err.append(ttfi * 1000.0 - TTFI_MS)
        for gap in gaps:
            t += gap
            if w0 <= t <= w1:
                gap_err.append(gap * 1000.0 - GAP_MS)
    absg = [abs(e) for e in gap_err]
    abst = [abs(e) for e in ttfi_err]
    return {
        "gaps": len(gap_err),
        "gap_abs_p50_ms": _pct(absg, 0.5),
        "gap_abs_p99_ms": _pct(absg, 0.99),
        "gap_abs_max_ms": max(absg, default=float("nan")),
        "gap_signed_p1_ms": _pct(gap_err, 0.01),
        "gap_signed_p99_ms": _pct(gap_err, 0.99),
        "ttfis": len(ttfi_err),
        "ttfi_abs_p50_ms": _pct(abst, 0.5),
        "ttfi_abs_p99_ms": _pct(abst, 0.99),
        "ttfi_abs_max_ms": max(abst, default=float("nan")),
    }


def load_ours(path: Path) -> list[tuple[float, float | None, list[float]]]:
    """Streams written by fidelity_locustfile.py."""
    return [(s, t, list(g)) for s, t, g in orjson.loads(path.read_bytes())]


def load_baseline(path: Path) -> list[tuple[float, float | None, list[float]]]:
    """Streams written by baseline/locustfile.py, turned into (start, ttfi, gaps)."""
    out: list[tuple[float, float | None, list[float]]] = []
    for start, stamps in orjson.loads(path.read_bytes()):
        if not stamps:
            continue
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        out.append((start, stamps[0] - start, gaps))
    return out


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


def run_one(kind: str, n: int, args: argparse.Namespace, cpus: list[int]) -> dict[str, Any]:
    """One (client kind, concurrency) step against a fresh simulator."""
    sim_cpu, client_cpu = (cpus[0], cpus[-1]) if args.pin and len(cpus) > 1 else (None, None)
    with (
        tempfile.TemporaryDirectory(prefix="fidelity-") as tmp_name,
        SimulatorProcess(["--profile", str(PROFILE), "--limit", "3600"], api_key=KEY) as sim,
    ):
        tmp = Path(tmp_name)
        args.sim_pid = sim.proc.pid if sim.proc is not None else 0
        if sim.proc is not None and sim_cpu is not None:
            os.sched_setaffinity(sim.proc.pid, {sim_cpu})
        port = int(sim.url.rsplit(":", 1)[1])
        out = tmp / "streams.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env["PYTHONPATH"] = str(ROOT)
        ramp_s = _ramp_s(n, args)
        common = ["--headless", "-u", str(n), "-r", str(max(1, round(n / ramp_s))), "-t", "600s"]
        if kind.startswith("ours"):
            scenario = tmp / "scenario.toml"
            scenario.write_text(scenario_toml(sim.url, args.items, "ndjson"), encoding="utf-8")
            env.update(FIDELITY_OUT=str(out), FIDELITY_KEY=KEY)
            cmd = [
                sys.executable, "-m", "locust", "-f", str(BENCH / "fidelity_locustfile.py"),
                *common, "--flow-config", str(scenario), "--report-dir", str(tmp / "report"),
            ]  # fmt: skip
            if kind == "ours-batched":  # Locust's batches as they come: one per second
                cmd += ["--flow-spawn-spread", "0"]
        else:
            path = f"/api/v1/tenants/acme/workspaces/bench/flows/{FLOWS['ndjson']}/stream"
            env.update(
                BASELINE_OUT=str(out),
                BASELINE_PATH=path + "?env=Production",
                BASELINE_HEADERS=json.dumps({"x-api-key": KEY, **schedule_headers(args.items)}),
            )
            cmd = [
                sys.executable, "-m", "locust", "-f", str(BENCH / "baseline" / "locustfile.py"),
                *common, "--host", sim.url,
            ]  # fmt: skip
        log = tmp / "locust.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                cmd, cwd=tmp, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                preexec_fn=_pin(client_cpu),  # noqa: PLW1509 - only sched_setaffinity, no locks
            )  # fmt: skip
            try:
                return _measure(kind, n, args, proc, port=port, tmp=tmp)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


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
    kind: str, n: int, win: _Window, streams: list[tuple[float, float | None, list[float]]]
) -> dict[str, Any]:
    span = win.p1 - win.p0
    row: dict[str, Any] = {"kind": kind, "streams": n, "window_s": span}
    row.update(score(streams, win.w0, win.w1))
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
    streams = load_ours(out) if kind.startswith("ours") else load_baseline(out)
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
        (_window_row(kind, n, w, streams) for w in wins), key=lambda r: r["gap_abs_p99_ms"]
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
    return result


# --- report ----------------------------------------------------------------------------------
def _f(value: Any, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


HEADER = (
    "client", "streams", "items/s", "gap err p50 / p99 / max ms", "p99 of each window",
    "TTFI err p50 / p99",
    "client CPU (waiting)", "µs/item", "sim sched p99 (sim waiting)", "sum ITL p99-50", "health",
    "load",
)  # fmt: skip


def _cells(r: dict[str, Any]) -> list[str]:
    sched = (r.get("sim_sched_error_ms") or {}).get("p99")
    local = (r.get("generator") or {}).get("local") or {}
    health = "-"
    if local:
        verdict = "SAT" if r.get("generator_saturated") else "ok"
        cpu, lag = _f(local.get("cpu_pct_p90"), 0), _f(local.get("loop_lag_ms_p99"), 1)
        wait = _f(local.get("cpu_wait_pct_p90"), 1)
        health = f"{verdict} cpu90 {cpu} lag99 {lag} wait90 {wait}"
    gap = [_f(r["gap_abs_p50_ms"]), _f(r["gap_abs_p99_ms"]), _f(r["gap_abs_max_ms"], 1)]
    return [
        r["kind"], str(r["streams"]), f"{r['items_per_s']:.0f}", " / ".join(gap),
        ", ".join(_f(v, 1) for v in r["gap_abs_p99_all_ms"]),
        f"{_f(r['ttfi_abs_p50_ms'])} / {_f(r['ttfi_abs_p99_ms'])}",
        f"{r['client_cpu']:.2f} ({r['client_waiting_for_cpu']:.2f})",
        f"{r['client_us_per_item']:.0f}", f"{_f(sched)} ({r['sim_waiting_for_cpu']:.2f})",
        _f(r.get("summary_itl_p99_minus_gap_ms")),
        health, f"{r['load_avg'][0]}-{r['load_avg'][1]}",
    ]  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the results as a Markdown table."""
    print("| " + " | ".join(HEADER) + " |")
    print("|---" * len(HEADER) + "|")
    for r in rows:
        if "error" in r:
            print(f"| {r['kind']} | {r['streams']} | failed: {r['error'][-200:]!r} |")
        else:
            print("| " + " | ".join(_cells(r)) + " |")


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest concurrency within 2 / 5 ms p99, and ours/baseline ratios per concurrency."""
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {}
    for kind in ("ours", "ours-batched", "baseline"):
        mine = [r for r in ok if r["kind"] == kind]
        for bound in (2.0, 5.0):
            fits = [r["streams"] for r in mine if r["gap_abs_p99_ms"] <= bound]
            out[f"{kind}_max_streams_p99_le_{bound:g}ms"] = max(fits, default=None)
    ratios: dict[str, dict[int, dict[str, float]]] = {"ours": {}, "ours-batched": {}}
    for r in ok:
        if r["kind"] not in ratios:
            continue
        base = next(
            (b for b in ok if b["kind"] == "baseline" and b["streams"] == r["streams"]), None
        )
        if base is not None:
            ratios[r["kind"]][r["streams"]] = {
                "gap_p99_ours_over_baseline": r["gap_abs_p99_ms"] / base["gap_abs_p99_ms"],
                "cpu_per_item_ours_over_baseline": r["client_us_per_item"]
                / base["client_us_per_item"],
            }
    out["ratios"] = ratios
    return out


def main() -> None:
    """Run the steps, print the table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", default="100,250,500,1000,2000")
    parser.add_argument("--baseline-steps", default="100,250,500,1000")
    parser.add_argument(
        "--batched-steps",
        default="500,1000",
        help="ours with --flow-spawn-spread 0: each second's users start their streams together",
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
        args.steps, args.baseline_steps, args.window, args.items = "100,250", "100", 3.0, 40
        args.batched_steps = ""
        args.repeat = 1
    cpus = sorted(os.sched_getaffinity(0))
    rows: list[dict[str, Any]] = []
    plan = [("ours", int(s)) for s in args.steps.split(",") if s]
    plan += [("ours-batched", int(s)) for s in args.batched_steps.split(",") if s]
    plan += [("baseline", int(s)) for s in args.baseline_steps.split(",") if s]
    for kind, n in plan:
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
