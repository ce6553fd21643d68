"""Transport candidates following many paced streams: client CPU per read, and delivery lag.

A server subprocess (asyncio, its own core's worth of CPU, not counted) streams chunked JSON arrays:
each stream sends one ~200-byte element every ``interval`` ms, each element carrying the server's
``perf_counter()`` at send time (CLOCK_MONOTONIC on Linux: the same clock in both processes). The
benchmark process follows S streams at once in S greenlets with each candidate in turn:

- ``flowload``: harness.transport (gevent sockets + httptools), ``Response.read()`` per recv;
- ``h11``: gevent socket + h11 state machine (pure Python), one recv -> receive_data -> events;
- ``geventhttpclient``: ``response.read(4096)`` (its iteration block): it returns only when
  4096 bytes are buffered or the body ends, which shows up as delivery lag.

Per candidate: reads, items, client CPU seconds (``time.process_time``), CPU microseconds per
read and per item, the share of one core used, and the lag between server send and client
receipt of the first element of each read (p50/p99/max ms). Prints a table and writes
``benchmarks/results/transport.json``. ``--quick`` runs a tiny smoke version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RESULTS = Path(__file__).resolve().parent / "results" / "transport.json"
T_MARK = b'{"t":'


# --- server (separate process) -------------------------------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            q = {k: float(v[0]) for k, v in parse_qs(urlsplit(target).query).items()}
            await _stream(writer, int(q["items"]), q["interval_ms"] / 1000, int(q["size"]), q)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _stream(
    writer: asyncio.StreamWriter, items: int, interval: float, size: int, q: dict[str, float]
) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    due = loop.time() + q.get("phase_ms", 0.0) / 1000
    pad = b"x" * max(0, size - 40)
    for i in range(items):
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
        item = b'%s{"t":%.9f,"p":"%s"}' % (b"[" if i == 0 else b",", time.perf_counter(), pad)
        if i == items - 1:
            item += b"]"
        writer.write(b"%x\r\n%s\r\n" % (len(item), item))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _serve() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# --- clients ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one candidate saw across all its streams."""

    reads: int = 0
    items: int = 0
    nbytes: int = 0
    lags: list[float] = field(default_factory=list)

    def seen(self, data: bytes, t: float) -> None:
        self.reads += 1
        self.nbytes += len(data)
        self.items += data.count(T_MARK)
        at = data.find(T_MARK)
        if at >= 0:
            end = data.find(b",", at)
            if end > 0:
                self.lags.append(t - float(data[at + 5 : end]))


def follow_flowload(port: int, path: str, tally: Tally) -> None:
    from harness.transport import HttpClient, HttpRequest

    client = HttpClient()
    response = client.send(HttpRequest("GET", f"http://127.0.0.1:{port}{path}"))
    while True:
        data, t = response.read(30.0)
        if not data:
            break
        tally.seen(data, t)
    response.close()
    client.close()


def follow_measure(port: int, path: str, tally: Tally) -> None:
    """The whole per-stream path: transport + ItemReader (orjson) + measure_stream bookkeeping."""
    from harness.reader import ItemReader
    from harness.run.measure import StreamLimits, measure_stream
    from harness.transport import HttpClient, HttpRequest

    client = HttpClient()
    request = HttpRequest("GET", f"http://127.0.0.1:{port}{path}")
    limits = StreamLimits(limit_s=60.0, stall_timeout_s=30.0)
    result = measure_stream(
        client, request, env="bench", flow="bench", limits=limits, reader=ItemReader()
    )
    if result.outcome != "ok":
        raise RuntimeError(f"stream failed: {result.outcome} {result.error}")
    tally.items += result.items
    tally.reads += result.items  # one element per recv here; reads are not counted separately
    tally.nbytes += result.bytes
    client.close()


def follow_h11(port: int, path: str, tally: Tally) -> None:
    import gevent.socket
    import h11

    sock = gevent.socket.create_connection(("127.0.0.1", port))
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(method="GET", target=path, headers=[("Host", f"127.0.0.1:{port}")])
    sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
    done = False
    while not done:
        raw = sock.recv(65536)
        t = time.perf_counter()
        conn.receive_data(raw)
        pieces = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.Data):
                pieces.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                done = True
                break
        if pieces:
            tally.seen(b"".join(pieces), t)
    sock.close()


def follow_geventhttpclient(port: int, path: str, tally: Tally) -> None:
    from geventhttpclient import HTTPClient

    client = HTTPClient("127.0.0.1", port, network_timeout=30.0)
    response = client.get(path)
    while True:
        data = response.read(4096)
        t = time.perf_counter()
        if not data:
            break
        tally.seen(data, t)
    client.close()


def follow_raw_recv(port: int, path: str, tally: Tally) -> None:
    """The floor: a gevent socket and recv(), no HTTP parsing at all (chunk framing left in)."""
    import gevent.socket

    sock = gevent.socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    while True:
        data = sock.recv(65536)
        t = time.perf_counter()
        if data:
            tally.seen(data, t)
        if not data or data.endswith(b"0\r\n\r\n"):
            break
    sock.close()


CANDIDATES: dict[str, Callable[[int, str, Tally], None]] = {
    "raw-recv (floor)": follow_raw_recv,
    "flowload": follow_flowload,
    "flowload+reader+measure": follow_measure,
    "h11": follow_h11,
    "geventhttpclient": follow_geventhttpclient,
}


def _pct_ms(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile in milliseconds; None when nothing was sampled."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] * 1000, 2)


def run_candidate(
    name: str, port: int, streams: int, items: int, interval_ms: float
) -> dict[str, Any]:
    import gevent

    tally = Tally()
    follow = CANDIDATES[name]
    paths = [
        f"/s?items={items}&interval_ms={interval_ms}&size=200&phase_ms={i * interval_ms / streams}"
        for i in range(streams)
    ]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    greenlets = [gevent.spawn(follow, port, path, tally) for path in paths]
    gevent.joinall(greenlets, timeout=120, raise_error=True)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "candidate": name,
        "streams": streams,
        "interval_ms": interval_ms,
        "reads": tally.reads,
        "items": tally.items,
        "mb": round(tally.nbytes / 1e6, 3),
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_us_per_read": round(cpu / max(1, tally.reads) * 1e6, 2),
        "cpu_us_per_item": round(cpu / max(1, tally.items) * 1e6, 2),
        "core_share": round(cpu / wall, 3),
        "lag_p50_ms": _pct_ms(tally.lags, 0.5),
        "lag_p99_ms": _pct_ms(tally.lags, 0.99),
        "lag_max_ms": _pct_ms(tally.lags, 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    # Import every candidate up front so no import time lands in a measured run.
    import geventhttpclient
    import h11

    import harness.reader
    import harness.run.measure
    import harness.transport

    _ = (geventhttpclient, h11, harness.run.measure, harness.reader, harness.transport)
    scenarios = (
        [(10, 20, 20.0)] if args.quick else [(200, 150, 20.0), (50, 400, 5.0), (1, 300, 10.0)]
    )
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        if server.stdout is None:
            raise RuntimeError("benchmark server has no stdout")
        port = int(server.stdout.readline())
        rows = [
            run_candidate(name, port, streams, items, interval)
            for streams, items, interval in scenarios
            for name in CANDIDATES
        ]
    finally:
        server.terminate()
        server.wait(10)
    _report(rows, quick=args.quick)


def _report(rows: list[dict[str, Any]], *, quick: bool) -> None:
    cols = ["candidate", "streams", "interval_ms", "reads", "items", "cpu_us_per_read",
            "cpu_us_per_item", "core_share", "lag_p50_ms", "lag_p99_ms", "lag_max_ms"]  # fmt: skip
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print(" | ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True)))
    for row in rows:
        print(" | ".join(f"{row[c]!s:>{w}}" for c, w in zip(cols, widths, strict=True)))
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "note": "shared machine; other jobs ran concurrently, figures are noisy",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"quick": quick, "machine": machine, "rows": rows}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"machine: {machine}\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
