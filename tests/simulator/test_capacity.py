"""The capacity model: slots, FIFO queue (TTFI grows), then 429/503 with Retry-After."""

from __future__ import annotations

import threading
from time import perf_counter
from typing import Any

import gevent
import pytest

from harness.simulator.capacity import Capacity, Gate
from harness.simulator.process import SimulatorThread, build_server
from harness.simulator.profiles import profile_from_dict
from tests.simulator.test_server import RawClient, Reply

FLOW = "55555555-5555-4555-8555-555555555555"
PROFILE: dict[str, Any] = {
    "envs": {
        "Production": {"slots": 2, "queue": 2, "retry_after_s": 3},
        "Test": {"slots": 1, "queue": 0, "reject_status": 503},
    },
    "flows": [{"id": FLOW, "name": "held", "ttfi_ms": 500, "gap_ms": 1, "items": 1}],
}


def in_hub(fn: Any) -> Any:
    """Run ``fn`` in a fresh thread (its own gevent hub) and return its result."""
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(10)
    return out[0]


def test_gate_admits_queues_fifo_and_rejects() -> None:
    def scenario() -> tuple[list[str], dict[str, int]]:
        gate = Gate(slots=1, queue=2)
        order: list[str] = []

        def user(name: str, hold: float) -> None:
            got = gate.enter(timeout=5)
            order.append(f"{name}:{got}")
            if got:
                gevent.sleep(hold)
                gate.leave()

        lets = [gevent.spawn(user, n, 0.02) for n in "abcd"]
        gevent.joinall(lets)
        s = gate.stats
        return order, {"in_use": s.in_use, "rejected": s.rejected, "max_queued": s.max_queued}

    order, stats = in_hub(scenario)
    assert order == ["a:True", "d:False", "b:True", "c:True"]
    assert stats == {"in_use": 0, "rejected": 1, "max_queued": 2}


def test_gate_queue_timeout_gives_none_and_leaves_the_queue() -> None:
    def scenario() -> tuple[bool | None, bool | None, int]:
        gate = Gate(slots=1, queue=1)
        first = gate.enter(timeout=1)
        second = gate.enter(timeout=0.05)
        gate.leave()
        return first, second, gate.stats.queued + gate.stats.in_use

    assert in_hub(scenario) == (True, None, 0)


def test_capacity_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="slots"):
        Capacity({"Production": (0, 1)})


def burst(port: int, env: str, n: int) -> list[Reply]:
    """Send ``n`` requests at once on ``n`` connections, then read every reply."""
    clients = [RawClient(port) for _ in range(n)]
    replies: list[Reply] = [Reply() for _ in range(n)]
    target = f"/api/v1/tenants/t/workspaces/w/flows/{FLOW}/stream?env={env}"
    raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\n\r\n".encode()
    t0 = perf_counter()
    for c in clients:
        c.sock.sendall(raw)
    # Read every reply at once (one thread each), so each first item is timed when it arrives.
    readers = []
    for c, r in zip(clients, replies, strict=True):
        r.started = t0
        readers.append(threading.Thread(target=c._read, args=(r,)))
    for t in readers:
        t.start()
    for t in readers:
        t.join(10)
    for c in clients:
        c.close()
    return replies


@pytest.fixture(scope="module")
def port() -> Any:
    server = build_server(profile_from_dict(PROFILE), limit_s=5)
    with SimulatorThread(server) as thread:
        yield thread.server.port


def test_burst_fills_slots_then_queue_then_429(port: int) -> None:
    replies = burst(port, "Production", 6)
    ok = sorted(r.chunks[0][0] - r.started for r in replies if r.status == 200)
    rejected = [r for r in replies if r.status != 200]
    assert len(ok) == 4
    assert [r.status for r in rejected] == [429, 429]
    assert all(r.headers["retry-after"] == "3" for r in rejected)
    assert all(r.json()["status"] == 429 for r in rejected)
    # Two ran at once (first item at ~0.5 s); two waited for a slot, which frees only after
    # a stream's 0.5 s, so their first item came at >= 1.0 s (a timer never fires late-early).
    assert ok[0] < 0.9
    assert ok[2] >= 0.98
    assert ok[3] < 3.0
    c = RawClient(port)
    prod = c.request("/_flowload/stats", method="GET", body=b"").json()["capacity"]["Production"]
    c.close()
    assert prod["max_queued"] == 2


def test_env_configured_for_503(port: int) -> None:
    replies = burst(port, "Test", 3)
    assert sorted(r.status for r in replies) == [200, 503, 503]
    assert all("retry-after" in r.headers for r in replies if r.status == 503)


def test_envs_have_separate_capacity(port: int) -> None:
    prod = burst(port, "Production", 2)
    dev = burst(port, "Development", 2)
    assert [r.status for r in prod + dev] == [200] * 4


def test_rejections_leave_no_slot_behind(port: int) -> None:
    burst(port, "Production", 8)
    c = RawClient(port)
    stats = c.request("/_flowload/stats", method="GET", body=b"").json()
    c.close()
    prod = stats["capacity"]["Production"]
    assert prod["in_use"] == 0
    assert prod["queued"] == 0
    assert prod["rejected"] >= 4
