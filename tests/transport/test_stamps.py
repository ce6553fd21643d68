"""Kernel receive stamps on real sockets, checked against the server's log of its actual sends.

The simulator runs in its own process and logs, per item, ``perf_counter()`` just before the
send call (CLOCK_MONOTONIC: the same clock as this process's). An item's stamped time must lie
just after that send, however late this process got to read it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.monkey
import orjson
import pytest

from harness.reader import ItemFormat, ItemReader
from harness.run.measure import StreamLimits, measure_stream
from harness.simulator import SimulatorProcess
from harness.transport import HttpClient, HttpRequest, KernelClock, ReadTimings, TransportOptions
from harness.transport._client import _kernel_clock
from tests.e2e.tls import make_certificate

KEY = "stamps-test-key-0123"
FLOW = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"  # the default profile's JSON-array flow
PATH = f"/api/v1/tenants/acme/workspaces/sales/flows/{FLOW}/stream?env=Production"
# The original sleep blocks the whole process (Locust, imported elsewhere, patches time.sleep).
blocking_sleep = gevent.monkey.get_original("time", "sleep")


def sent_times(log: Path, job_id: str) -> list[float]:
    """The server's own send times of one stream's items (perf_counter seconds)."""
    for line in log.read_bytes().splitlines():
        record = orjson.loads(line)
        if record.get("job_id") == job_id:
            return list(record["sent_at"])
    raise AssertionError(f"job {job_id} is not in the server's log")


def paced(items: int, gap_ms: int, **extra: str) -> tuple[tuple[str, str], ...]:
    headers = {
        "x-api-key": KEY,
        "x-flowload-items": str(items),
        "x-flowload-ttfi-ms": "30",
        "x-flowload-gap-ms": str(gap_ms),
        **extra,
    }
    return tuple(headers.items())


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(["--log", str(tmp_path / "log.jsonl")], api_key=KEY) as sim:
        yield sim


def block_the_loop(stop: list[bool], hold_s: float = 0.025) -> None:
    """A greenlet that keeps the event loop busy, as CPU-bound work in another user would."""
    while not stop[0]:
        blocking_sleep(hold_s)
        gevent.sleep(0.002)


def read_against_sends(
    client: HttpClient, url: str, log: Path, items: int
) -> list[tuple[float, float, float]]:
    """(stamped time, user receipt, server send time of the read's last item) per read."""
    stop = [False]
    blocker = gevent.spawn(block_the_loop, stop)
    response = client.send(HttpRequest("GET", url, paced(items, 20)))
    reader = ItemReader(ItemFormat.JSON_ARRAY)
    reads: list[tuple[float, float, int]] = []
    done = 0
    try:
        while True:
            data, t = response.read(10.0)
            if not data:
                break
            wire = response._conn.wire  # type: ignore[union-attr]
            assert wire.read_lo <= t <= t + wire.lag
            done += len(reader.feed(data))
            if done:
                reads.append((t, t + wire.lag, done - 1))
    finally:
        stop[0] = True
        blocker.join()
    job = response.headers["flow-job-id"]
    response.close()
    sent = sent_times(log, job)
    assert done == items == len(sent)
    return [(t, received, sent[index]) for t, received, index in reads]


def test_stamps_keep_the_servers_send_times_while_the_loop_is_blocked(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    clock = _kernel_clock()
    steps = (clock.anomalies.repaired, clock.anomalies.clamped)
    client = HttpClient(TransportOptions(), timings=ReadTimings())
    assert client.clock == "kernel", client.clock_note
    reads = read_against_sends(client, simulator.url + PATH, tmp_path / "log.jsonl", 40)
    for stamped, received, sent in reads:
        # The stamp is the segment's arrival: after the server's send call began, within a
        # loopback transit of it, and never after this process saw the bytes.
        assert sent < stamped < sent + 1e-3, (stamped - sent) * 1e3
        assert stamped <= received
    late = [received - sent for _, received, sent in reads]
    assert max(late) > 5e-3, "the loop was blocked: some bytes must have been seen late"
    # Every conversion fell in its window without re-pairing: no clock step, no clamping.
    assert (clock.anomalies.repaired, clock.anomalies.clamped) == steps
    assert client.timings.lag.total >= len(reads)


def test_tls_reads_carry_the_stamp_of_the_raw_read(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path / "tls")
    log = tmp_path / "log.jsonl"
    args = ["--log", str(log), "--tls-cert", str(cert), "--tls-key", str(key)]
    with SimulatorProcess(args, api_key=KEY) as sim:
        assert sim.url.startswith("https://")
        client = HttpClient(TransportOptions(ca_bundle=str(cert)), timings=ReadTimings())
        reads = read_against_sends(client, sim.url + PATH, log, 30)
    for stamped, received, sent in reads:
        assert sent < stamped < sent + 1e-3, (stamped - sent) * 1e3
        assert stamped <= received
    assert max(received - sent for _, received, sent in reads) > 5e-3


def test_a_heavy_stream_does_not_delay_a_paced_streams_times(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    # Beside the paced stream, a stream of dense 1 MiB items keeps this process parsing for
    # 10-20 ms at a time (with user-space times, paced items were that late). The paced
    # stream's gaps (100 ms: no parse on a busy machine spans one) must still be the server's.
    # A parse longer than a paced gap would put two paced items in one read: that is counted
    # in the error bound (tested in test_measure).
    client = HttpClient(TransportOptions(), timings=ReadTimings())
    heavy_client = HttpClient(TransportOptions(), timings=ReadTimings())
    limits = StreamLimits(limit_s=30.0, stall_timeout_s=10.0)
    url = simulator.url + PATH
    heavy_headers = paced(4, 5, **{"x-flowload-item-bytes": "1048576"})
    heavy_headers += (("x-flowload-item-shape", "dense"),)
    done: list[bool] = [False]
    heavy_streams: list[Any] = []

    def heavy() -> None:
        while not done[0]:
            request = HttpRequest("GET", url, heavy_headers)
            heavy_streams.append(
                measure_stream(heavy_client, request, env="P", flow="h", limits=limits)
            )

    worker = gevent.spawn(heavy)
    gevent.sleep(0.2)
    request = HttpRequest("GET", url, paced(20, 100))
    result = measure_stream(client, request, env="P", flow="paced", limits=limits)
    done[0] = True
    worker.join(timeout=30)
    assert result.ok, result.error
    assert len(heavy_streams) >= 3
    assert all(r.ok and r.items == 4 for r in heavy_streams), heavy_streams
    sent = sent_times(tmp_path / "log.jsonl", result.job_id or "")
    server_gaps = [b - a for a, b in itertools.pairwise(sent)]
    errors_ms = [abs(g - s) * 1e3 for g, s in zip(result.gaps_s, server_gaps, strict=True)]
    assert max(errors_ms) <= 2.0, sorted(errors_ms)[-5:]


def test_clock_conversion_survives_wall_clock_steps() -> None:
    shift = [0]

    def realtime() -> int:
        return time.time_ns() + shift[0]

    clock = KernelClock(realtime)
    for step_ns in (3_600_000_000_000, -7_200_000_000_000):
        shift[0] += step_ns  # the wall clock (and so the kernel's stamps) jumps
        lo = time.perf_counter()
        stamp = realtime()  # a segment arrives, stamped with the new wall clock
        hi = time.perf_counter()
        t = clock.to_perf(stamp, lo, hi)
        assert lo <= t <= hi
    assert clock.anomalies.repaired == 2
    assert clock.anomalies.clamped == 0


def test_a_stamp_outside_its_window_is_clamped_and_counted() -> None:
    clock = KernelClock()
    lo = time.perf_counter()
    hi = lo + 0.001
    assert clock.to_perf(time.time_ns() + 10**12, lo, hi) == hi  # 1000 s in the future
    assert clock.to_perf(time.time_ns() - 10**12, lo, hi) == lo
    assert clock.anomalies.clamped == 2
