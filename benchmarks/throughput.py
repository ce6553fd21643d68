"""Throughput of one harness process on one core, next to the raw transport, in the same run.

Two workloads, each with tiny / medium / large items (JSON array bodies), each run with three
client variants in a subprocess pinned to one CPU (the server on the other):

- ``raw``: ``HttpClient.send`` + ``Response.read()`` until the end, bytes discarded (the floor);
- ``measure``: ``measure_stream`` (transport + ItemReader with orjson + per-stream measurement);
- ``record``: ``measure`` + ``RunSession.record`` (HdrHistogram stats + streams.jsonl line),
  i.e. everything the Locust user does per stream except firing Locust's events.

``per-write`` (one item per write): the simulator paces S streams at R items/s each, every item
its own chunk and send, so nearly every ``recv`` carries one item. The client is not saturated;
its CPU per item gives the items/s one core could follow: ``1e6 / µs per item``.

``large-writes``: a bulk server sends each body (~4 MB of items) in 64 KiB writes as fast as the
client reads; the client runs at full speed on its core. items/s and MB/s are wall-clock rates.
``orjson`` is ``orjson.loads`` of the same body bytes (whole body at once), in this process.

Ratios: harness (``record``) over ``raw`` items/s, and over ``orjson`` for large writes. The
recording overhead is (record - measure) / record of the CPU per item.

    PYTHONPATH=. python benchmarks/throughput.py [--quick]

Writes ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "throughput.json"
FLOW = "f1de1170-0000-4000-8000-00000000000b"  # paced-json in fidelity_profile.toml
PROFILE = ROOT / "benchmarks" / "fidelity_profile.toml"
TARGET = f"/api/v1/tenants/acme/workspaces/bench/flows/{FLOW}/stream?env=Production"
SIZES = {"tiny": 40, "medium": 500, "large": 20_000}
VARIANTS = ("raw", "measure", "record")
WRITE = 64 * 1024


# --- bulk server (subprocess) ----------------------------------------------------------------
def bulk_body(item_bytes: int, body_bytes: int) -> bytes:
    """A JSON array of items of about ``item_bytes`` each, about ``body_bytes`` in all."""
    pad = max(0, item_bytes - len(b'{"seq":1000000,"data":""}'))
    count = max(1, body_bytes // (item_bytes + 1))
    items = [b'{"seq":1%06d,"data":"%s"}' % (i, b"x" * pad) for i in range(count)]
    return b"[" + b",".join(items) + b"]"


def bulk_response(body: bytes) -> bytes:
    """Head + chunked body in WRITE-sized chunks + last chunk."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = [body[i : i + WRITE] for i in range(0, len(body), WRITE)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def serve_bulk(item_bytes: int, body_bytes: int) -> None:
    """Serve the same chunked body to every request, keep-alive, one thread per connection."""
    response = bulk_response(bulk_body(item_bytes, body_bytes))
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)

    def handle(conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf.split(b"\r\n\r\n", 1)[1]
                try:
                    conn.sendall(response)
                except OSError:
                    return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


# --- client (subprocess) ---------------------------------------------------------------------
def client_main(spec: dict[str, Any]) -> None:
    """Run ``spec['conc']`` greenlets of back-to-back streams; print CPU, wall, items, bytes."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from harness.results.stream import StreamResult
    from harness.run.measure import StreamLimits, measure_stream
    from harness.run.session import RunSession
    from harness.transport import HttpClient, HttpRequest, TransportOptions

    variant, url = spec["variant"], spec["url"]
    request = HttpRequest("GET", url + spec["path"], tuple(spec["headers"].items()), None)
    limits = StreamLimits(limit_s=3600, stall_timeout_s=30)
    session = RunSession()
    tmp = tempfile.mkdtemp(prefix="throughput-")
    session.open_records(Path(tmp))
    totals = {"items": 0, "bytes": 0, "streams_run": 0}

    def raw(client: HttpClient) -> None:
        response = client.send(request)
        n = 0
        while data := response.read(30.0)[0]:
            n += len(data)
        response.close()
        totals["bytes"] += n
        totals["items"] += n // spec["frame_bytes"]

    def measured(client: HttpClient) -> None:
        result: StreamResult = measure_stream(
            client, request, env="Production", flow="f", limits=limits
        )
        if variant == "record":
            session.record(result)
        totals["items"] += result.items
        totals["bytes"] += result.bytes

    one = raw if variant == "raw" else measured

    def loop(deadline: float) -> None:
        client = HttpClient(TransportOptions())
        done = 0
        while time.perf_counter() < deadline:
            one(client)
            done += 1
            if done == spec["streams_each"]:
                break
        totals["streams_run"] += done
        client.close()

    deadline = time.perf_counter() + spec["duration_s"]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    gevent.joinall([gevent.spawn(loop, deadline) for _ in range(spec["conc"])])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    session.close()
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, **totals}), flush=True)


# --- orchestration ---------------------------------------------------------------------------
def _pin_cmd(cpu: int | None, cmd: list[str]) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def run_client(spec: dict[str, Any], cpu: int | None) -> dict[str, Any]:
    """Run one client variant in a pinned subprocess; return its counters."""
    env = dict(os.environ, PYTHONPATH=spec.get("code_root") or str(ROOT))
    cmd = _pin_cmd(cpu, [sys.executable, __file__, "--client", json.dumps(spec)])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr[-1500:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["us_per_item"] = result["cpu_s"] / max(result["items"], 1) * 1e6
    result["items_per_s"] = result["items"] / result["wall_s"]
    result["mb_per_s"] = result["bytes"] / result["wall_s"] / 1e6
    result["cpu_share"] = result["cpu_s"] / result["wall_s"]
    return result


def per_write(
    args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> list[dict[str, Any]]:
    """One item per write: the simulator paces the items; CPU per item on the client."""
    from harness.simulator import SimulatorProcess

    rows = []
    items = int(args.pw_seconds * 1000 / args.pw_gap_ms)
    for shape, size in SIZES.items():
        streams = args.pw_streams if size < 10_000 else max(10, args.pw_streams // 10)
        with SimulatorProcess(["--profile", str(PROFILE), "--limit", "3600"], api_key="k") as sim:
            if sim.proc is not None and cpus[0] is not None:
                os.sched_setaffinity(sim.proc.pid, {cpus[0]})
            headers = {
                "x-api-key": "k", "x-flowload-items": str(items), "x-flowload-ttfi-ms": "0",
                "x-flowload-gap-ms": str(args.pw_gap_ms), "x-flowload-item-bytes": str(size),
            }  # fmt: skip
            for variant in VARIANTS:
                spec = {
                    "variant": variant, "url": sim.url, "path": TARGET, "headers": headers,
                    "conc": streams, "duration_s": 600, "streams_each": 1,
                    "frame_bytes": size + 1, "code_root": args.code_root,
                }  # fmt: skip
                load = os.getloadavg()[0]
                row = {"workload": "per-write", "shape": shape, "item_bytes": size}
                row |= {"variant": variant, "streams": streams, "load": round(load, 2)}
                row |= run_client(spec, cpus[1])
                rows.append(row)
                print(f"# {json.dumps(row)[:300]}", file=sys.stderr, flush=True)
    return rows


def large_writes(
    args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> list[dict[str, Any]]:
    """Bulk bodies in 64 KiB writes at full speed; the client saturates its core."""
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for shape, size in SIZES.items():
        body = bulk_body(size, args.body_bytes)
        count = len(orjson.loads(body))
        cmd = _pin_cmd(
            cpus[0], [sys.executable, __file__, "--serve", str(size), str(args.body_bytes)]
        )
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline()) if server.stdout else 0
            for variant in VARIANTS:
                spec = {
                    "variant": variant, "url": f"http://127.0.0.1:{port}", "path": "/",
                    "headers": {}, "conc": 4, "duration_s": args.bulk_seconds, "streams_each": 0,
                    "frame_bytes": len(body) / count, "code_root": args.code_root,
                }  # fmt: skip
                load = os.getloadavg()[0]
                row = {"workload": "large-writes", "shape": shape, "item_bytes": size}
                row |= {"variant": variant, "load": round(load, 2)}
                row |= run_client(spec, cpus[1])
                rows.append(row)
                print(f"# {json.dumps(row)[:300]}", file=sys.stderr, flush=True)
        finally:
            server.kill()
            server.wait()
        rows.append(_orjson_row(shape, size, body, count, args.bulk_seconds))
    return rows


def _orjson_row(shape: str, size: int, body: bytes, count: int, seconds: float) -> dict[str, Any]:
    reps, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds / 2:
        orjson.loads(body)
        reps += 1
    cpu = time.process_time() - cpu0
    return {
        "workload": "large-writes", "shape": shape, "item_bytes": size, "variant": "orjson",
        "items": reps * count, "bytes": reps * len(body), "cpu_s": cpu,
        "us_per_item": cpu / (reps * count) * 1e6, "items_per_s": reps * count / cpu,
        "mb_per_s": reps * len(body) / cpu / 1e6, "cpu_share": 1.0,
    }  # fmt: skip


def recording_cost(items_per_stream: int = 100, streams: int = 3000) -> dict[str, Any]:
    """CPU of ``RunSession.record`` (stats + streams.jsonl line) per item, in this process.

    Streams of ``items_per_stream`` items with 50 ms gaps (±jitter), as the paced runs have. Less
    noisy than subtracting two client runs, whose difference is within their run-to-run noise.
    """
    import random

    from harness.results.stream import Outcome, StreamResult
    from harness.run.session import RunSession

    rng = random.Random(1)
    results = [
        StreamResult(
            env="Production",
            flow="paced",
            outcome=Outcome.OK,
            started_at=time.time(),
            duration_s=5.1,
            limit_s=300.0,
            status=200,
            job_id=f"job-{i}",
            ttfb_s=0.001,
            ttfi_s=0.1 + rng.random() / 1000,
            gaps_s=tuple(0.05 + rng.gauss(0, 0.0005) for _ in range(items_per_stream - 1)),
            items=items_per_stream,
            bytes=items_per_stream * 200,
        )
        for i in range(streams)
    ]
    session = RunSession()
    with tempfile.TemporaryDirectory() as tmp:
        session.open_records(Path(tmp))
        cpu0 = time.process_time()
        for result in results:
            session.record(result)
        cpu = time.process_time() - cpu0
        session.close()
    return {
        "items_per_stream": items_per_stream,
        "us_per_stream": cpu / streams * 1e6,
        "us_per_item": cpu / (streams * items_per_stream) * 1e6,
    }


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Harness over floor per (workload, shape), and the recording overhead."""
    out = []
    keys = sorted({(r["workload"], r["shape"]) for r in rows})
    for workload, shape in keys:
        by = {r["variant"]: r for r in rows if (r["workload"], r["shape"]) == (workload, shape)}
        if any("error" in r for r in by.values()):
            continue
        # Per core: items per CPU second (per-write is not saturated; bulk is, so the same).
        per_core = {v: 1e6 / r["us_per_item"] for v, r in by.items()}
        entry = {"workload": workload, "shape": shape}
        entry["record_over_raw"] = per_core["record"] / per_core["raw"]
        entry["measure_over_raw"] = per_core["measure"] / per_core["raw"]
        if "orjson" in per_core:
            entry["record_over_orjson"] = per_core["record"] / per_core["orjson"]
        rec, mea = by["record"]["us_per_item"], by["measure"]["us_per_item"]
        entry["recording_overhead"] = (rec - mea) / rec
        out.append(entry)
    return out


def print_table(rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> None:
    """Markdown tables."""
    print(
        "| workload | shape | variant | items/s (wall) | MB/s | CPU share | µs/item "
        "| items/s per core | load |"
    )
    print("|---" * 9 + "|")
    for r in rows:
        if "error" in r:
            print(f"| {r['workload']} | {r['shape']} | {r['variant']} | failed |")
            continue
        print(
            f"| {r['workload']} | {r['shape']} | {r['variant']} | {r['items_per_s']:,.0f} | "
            f"{r['mb_per_s']:.1f} | {r['cpu_share']:.2f} | {r['us_per_item']:.2f} | "
            f"{1e6 / r['us_per_item']:,.0f} | {r.get('load', '-')} |"
        )
    print()
    print("| workload | shape | record/raw | measure/raw | record/orjson | recording overhead |")
    print("|---" * 6 + "|")
    for s in summary:
        orj = f"{s['record_over_orjson']:.2f}" if "record_over_orjson" in s else "-"
        print(
            f"| {s['workload']} | {s['shape']} | {s['record_over_raw']:.2f} | "
            f"{s['measure_over_raw']:.2f} | {orj} | {s['recording_overhead'] * 100:.1f} % |"
        )


def main() -> None:
    """Parse options; run the server or client role, or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pw-streams", type=int, default=200, help="per-write: streams")
    parser.add_argument("--pw-gap-ms", type=int, default=10, help="per-write: ms between items")
    parser.add_argument("--pw-seconds", type=float, default=8.0, help="per-write: stream length")
    parser.add_argument("--body-bytes", type=int, default=4_000_000, help="large-writes: body size")
    parser.add_argument("--bulk-seconds", type=float, default=6.0, help="large-writes: seconds")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("per-write", "large-writes"), help="one workload")
    parser.add_argument(
        "--code-root", default="", help="import flowload from here in the clients (A/B of a change)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.client:
        client_main(json.loads(args.client))
        return
    if args.serve:
        serve_bulk(*args.serve)
        return
    if args.quick:
        args.pw_streams, args.pw_seconds, args.bulk_seconds, args.body_bytes = (
            50,
            2.0,
            2.0,
            1_000_000,
        )
    cpus = sorted(os.sched_getaffinity(0))
    pins: tuple[int | None, int | None] = (
        (cpus[0], cpus[-1]) if args.pin and len(cpus) > 1 else (None, None)
    )
    rows = [] if args.only == "large-writes" else per_write(args, pins)
    rows += [] if args.only == "per-write" else large_writes(args, pins)
    summary = ratios(rows)
    print_table(rows, summary)
    recording = recording_cost()
    print(
        f"\nrecording (RunSession.record: stats + streams.jsonl), {recording['items_per_stream']} "
        f"items/stream: {recording['us_per_stream']:.1f} µs per stream = "
        f"{recording['us_per_item']:.3f} µs per item"
    )
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    payload = {"machine": machine, "args": vars(args) | {"out": str(args.out)}, "rows": rows}
    payload |= {
        "ratios": summary,
        "recording": recording,
        "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
