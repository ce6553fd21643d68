"""The simulator over real sockets: status rules, auth, env parsing, faults, limit cut, seeds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import orjson
import pytest

from harness.simulator.process import SimulatorThread, build_server
from harness.simulator.profiles import profile_from_dict

FAST = "11111111-1111-4111-8111-111111111111"
SLOW = "22222222-2222-4222-8222-222222222222"
ND = "33333333-3333-4333-8333-333333333333"
SSE = "44444444-4444-4444-8444-444444444444"
PACED = "66666666-6666-4666-8666-666666666666"
LIMIT_S = 1.5

PROFILE: dict[str, Any] = {
    "tenants": ["acme"],
    "workspaces": ["sales"],
    "envs": {
        "Development": {"api_keys": ["dev-key"], "speed": 2.0},
        "Test": {"api_keys": ["test-key"]},
        "Production": {"api_keys": ["prod-key"]},
    },
    "flows": [
        {"id": FAST, "name": "fast", "ttfi_ms": 20, "gap_ms": 10, "items": 5, "item_bytes": 120},
        {"id": SLOW, "name": "slow", "ttfi_ms": 10, "gap_ms": 100, "items": 100},
        {"id": ND, "name": "nd", "format": "ndjson", "ttfi_ms": 5, "gap_ms": 5, "items": 3},
        {"id": PACED, "name": "paced", "ttfi_ms": 150, "gap_ms": 100, "items": 3},
        {"id": SSE, "name": "sse", "format": "sse", "ttfi_ms": 5, "gap_ms": 5, "items": 3},
    ],
}


def path(flow: str = FAST, env: str = "Production", tenant: str = "acme", extra: str = "") -> str:
    query = f"?env={env}" if env else "?"
    return f"/api/v1/tenants/{tenant}/workspaces/sales/flows/{flow}/stream{query}{extra}"


@dataclass
class Reply:
    """A raw HTTP/1.1 response with each chunk's arrival time."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    body: bytes = b""
    end: str = ""  # complete | eof | reset
    started: float = 0.0

    @property
    def data(self) -> bytes:
        return b"".join(c for _, c in self.chunks) if self.chunks else self.body

    def json(self) -> Any:
        return orjson.loads(self.data)


class RawClient:
    """Sends requests on one keep-alive connection and decodes chunked bodies by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def request(
        self, target: str, headers: dict[str, str] | None = None, method: str = "POST",
        body: bytes = b"{}",
    ) -> Reply:  # fmt: skip
        head = [f"{method} {target} HTTP/1.1", "Host: sim", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        reply = Reply(started=perf_counter())
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            self._read(reply)
        except ConnectionResetError:
            reply.end = "reset"
        return reply

    def _read(self, reply: Reply) -> None:
        status = self._line()
        assert status is not None, "no response"
        reply.status = int(status.split()[1])
        while (line := self._line()) not in (b"", None):
            assert line is not None
            name, _, value = line.decode("latin-1").partition(":")
            reply.headers[name.strip().lower()] = value.strip()
        if "content-length" in reply.headers:
            size = int(reply.headers["content-length"])
            while len(self.buf) < size and self._fill():
                pass
            reply.body, self.buf = self.buf[:size], self.buf[size:]
            reply.end = "complete"
            return
        while True:
            line = self._line()
            if line is None:
                reply.end = "eof"
                return
            size = int(line, 16)
            while len(self.buf) < size + 2:
                if not self._fill():
                    reply.end = "eof"
                    return
            data, self.buf = self.buf[:size], self.buf[size + 2 :]
            if size == 0:
                reply.end = "complete"
                return
            reply.chunks.append((perf_counter(), data))


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    server = build_server(profile_from_dict(PROFILE), seed=7, limit_s=LIMIT_S)
    with SimulatorThread(server) as thread:
        yield thread


@pytest.fixture
def client(sim: SimulatorThread) -> Iterator[RawClient]:
    c = RawClient(sim.server.port)
    yield c
    c.close()


PROD = {"x-api-key": "prod-key"}


def test_complete_stream_is_one_json_array_with_one_item_per_chunk(client: RawClient) -> None:
    reply = client.request(path(), PROD)
    assert reply.status == 200
    assert reply.end == "complete"
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.headers["transfer-encoding"] == "chunked"
    items = reply.json()
    assert [i["seq"] for i in items] == [0, 1, 2, 3, 4]
    assert all(i["flow"] == "fast" for i in items)
    assert len(reply.chunks) == 6  # five items, then the closing bracket
    assert reply.chunks[0][1].startswith(b"[{")
    assert reply.chunks[1][1].startswith(b",{")
    assert all(abs(len(c) - 121) <= 1 for _, c in reply.chunks[:5])


def test_job_id_is_a_guid_and_keep_alive_serves_the_next_request(client: RawClient) -> None:
    first = client.request(path(), PROD)
    second = client.request(path(), PROD, method="GET", body=b"")
    ids = {first.headers["flow-job-id"], second.headers["flow-job-id"]}
    assert len(ids) == 2
    for job in ids:
        parts = job.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        int(job.replace("-", ""), 16)


def test_items_arrive_on_schedule(client: RawClient) -> None:
    reply = client.request(path(extra="&x=1"), {**PROD, "x-flowload-ttfi-ms": "100"})
    arrivals = [t - reply.started for t, _ in reply.chunks[:5]]
    planned = [0.1, 0.11, 0.12, 0.13, 0.14]
    # Never early (1 ms for timer granularity); late only by scheduling noise.
    assert all(p - 0.001 <= a <= p + 0.25 for a, p in zip(arrivals, planned, strict=True)), arrivals


@pytest.mark.parametrize(
    ("env", "key"),
    [("Development", "dev-key"), ("0", "dev-key"), ("test", "test-key"), ("1", "test-key"),
     ("PRODUCTION", "prod-key"), ("2", "prod-key")],
)  # fmt: skip
def test_env_by_name_or_number(client: RawClient, env: str, key: str) -> None:
    reply = client.request(path(env=env, flow=ND), {"x-api-key": key})
    assert reply.status == 200
    assert len(reply.data.splitlines()) == 3


@pytest.mark.parametrize("env", ["", "3", "Staging", "-1", "2.0"])
def test_bad_env_is_400_with_json_body(client: RawClient, env: str) -> None:
    reply = client.request(path(env=env) + ("&env=" + env if not env else ""), PROD)
    assert reply.status == 400
    body = reply.json()
    assert body["status"] == 400
    assert "Development, Test, Production" in body["detail"]


def test_key_in_both_header_and_query_is_400(client: RawClient) -> None:
    reply = client.request(path(extra="&api_key=prod-key"), PROD)
    assert reply.status == 400
    assert "both" in reply.json()["detail"]


def test_key_in_query_alone_works(client: RawClient) -> None:
    assert client.request(path(extra="&api_key=prod-key")).status == 200


@pytest.mark.parametrize(
    ("headers", "extra"),
    [({}, ""), ({"x-api-key": ""}, ""), ({}, "&api_key="), ({"x-api-key": "nope"}, ""),
     ({"x-api-key": "dev-key"}, "")],
)  # fmt: skip
def test_missing_unknown_or_other_env_key_is_401(
    client: RawClient, headers: dict[str, str], extra: str
) -> None:
    reply = client.request(path(extra=extra), headers)
    assert reply.status == 401
    assert reply.json()["title"] == "Unauthorized"
    assert b"dev-key" not in reply.data
    assert b"nope" not in reply.data


@pytest.mark.parametrize(
    "target",
    [path(flow="no-such-flow"), path(tenant="other"), "/api/v1/tenants/acme/workspaces/x/flows/"
     + FAST + "/stream?env=2", "/api/v1/flows", "/"],
)  # fmt: skip
def test_unknown_flow_tenant_workspace_or_path_is_404(client: RawClient, target: str) -> None:
    reply = client.request(target, PROD)
    assert reply.status == 404
    assert reply.json()["status"] == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405(client: RawClient, method: str) -> None:
    reply = client.request(path(), PROD, method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, POST"


def test_binary_body_is_accepted(client: RawClient) -> None:
    headers = {**PROD, "content-type": "application/octet-stream"}
    reply = client.request(path(), headers, body=bytes(range(256)) * 40)
    assert reply.status == 200
    assert len(reply.json()) == 5


def test_ndjson_and_sse_formats(client: RawClient) -> None:
    nd = client.request(path(flow=ND), PROD)
    assert nd.headers["content-type"] == "application/x-ndjson"
    assert [orjson.loads(x)["seq"] for x in nd.data.splitlines()] == [0, 1, 2]
    sse = client.request(path(flow=SSE), PROD)
    assert sse.headers["content-type"] == "text/event-stream"
    events = [e for e in sse.data.split(b"\n\n") if e]
    assert [orjson.loads(e.removeprefix(b"data: "))["seq"] for e in events] == [0, 1, 2]


def test_limit_cuts_the_stream_without_terminal_chunk(client: RawClient) -> None:
    reply = client.request(path(flow=SLOW), PROD)
    elapsed = perf_counter() - reply.started
    assert reply.status == 200
    assert reply.end == "eof"
    assert not reply.data.endswith(b"]")
    assert LIMIT_S - 0.05 <= elapsed <= LIMIT_S + 0.5
    assert 10 <= len(reply.chunks) <= 16  # 10 ms + 100 ms gaps within 1.5 s


def test_development_is_slower_by_its_speed_factor(client: RawClient) -> None:
    prod = client.request(path(flow=PACED), PROD)
    dev = client.request(path(flow=PACED, env="Development"), {"x-api-key": "dev-key"})
    t_prod = prod.chunks[-2][0] - prod.started  # the last item (the last chunk is "]")
    t_dev = dev.chunks[-2][0] - dev.started
    assert 0.35 - 0.001 <= t_prod < 0.6  # planned 150 + 2 x 100 ms
    assert t_dev >= 0.7 - 0.001  # twice as slow (speed 2.0)


def fault(client: RawClient, spec: str, **over: str) -> Reply:
    headers = {**PROD, "x-flowload-fault": spec, "x-flowload-items": "5"}
    headers |= {f"x-flowload-{k.replace('_', '-')}": v for k, v in over.items()}
    return client.request(path(), headers)


def test_fault_status_before_streaming(client: RawClient) -> None:
    reply = fault(client, "status:503")
    assert reply.status == 503
    assert reply.json()["status"] == 503
    assert "flow-job-id" in reply.headers


def test_fault_status_by_query_flag(client: RawClient) -> None:
    assert client.request(path(extra="&flowload_fault=status:502"), PROD).status == 502


def test_fault_reset_mid_stream(client: RawClient) -> None:
    reply = fault(client, "reset:after=2")
    assert reply.status == 200
    assert reply.end in ("reset", "eof")  # the RST may beat the data to the reader
    assert len(reply.chunks) <= 2


def test_fault_truncate_ends_cleanly_without_closing_bracket(client: RawClient) -> None:
    reply = fault(client, "truncate:after=2")
    assert reply.end == "complete"
    assert reply.data.startswith(b"[")
    assert not reply.data.endswith(b"]")
    assert orjson.loads(reply.data + b"]") == orjson.loads(reply.data + b"]")[:2]


def test_fault_malformed_item_is_invalid_json_but_framed(client: RawClient) -> None:
    reply = fault(client, "malformed:at=1")
    assert reply.end == "complete"
    bodies = [c[1:] for _, c in reply.chunks[:5]]
    orjson.loads(bodies[0])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bodies[1])
    assert bodies[1].count(b"{") == bodies[1].count(b"}")
    orjson.loads(bodies[2])


def test_fault_stall_pauses_then_completes(client: RawClient) -> None:
    reply = fault(client, "stall:0.4:after=2", gap_ms="5", ttfi_ms="5")
    assert reply.end == "complete"
    times = [t - reply.started for t, _ in reply.chunks]
    assert times[1] < 0.3  # planned at 10 ms
    assert times[2] >= 0.4 + 0.015 - 0.001  # planned at 15 ms, plus the 0.4 s stall
    assert len(reply.json()) == 5


def test_fault_trickle_sends_one_byte_per_chunk(client: RawClient) -> None:
    reply = fault(client, "trickle:byte_ms=0", items="2", item_bytes="40")
    assert reply.end == "complete"
    assert all(len(c) == 1 for _, c in reply.chunks)
    assert len(reply.json()) == 2


def test_fault_oversized_item(client: RawClient) -> None:
    reply = fault(client, "oversized:bytes=3000000:at=1", items="3")
    items = reply.json()
    assert len(items) == 3
    assert len(orjson.dumps(items[1])) >= 3_000_000 - 2
    assert len(orjson.dumps(items[0])) < 1000


def test_fault_over_limit_runs_past_the_limit(client: RawClient) -> None:
    reply = fault(client, "over_limit:by=0.3", items="2")
    elapsed = perf_counter() - reply.started
    assert reply.end == "complete"
    assert len(reply.json()) == 2
    assert elapsed >= LIMIT_S + 0.25


def test_bad_fault_flag_is_400_naming_the_kinds(client: RawClient) -> None:
    reply = fault(client, "explode")
    assert reply.status == 400
    assert "reset" in reply.json()["detail"]


def test_same_seed_same_items_and_job_ids() -> None:
    def run() -> list[tuple[str, bytes]]:
        server = build_server(profile_from_dict(PROFILE), seed=99, limit_s=5)
        with SimulatorThread(server) as thread:
            c = RawClient(thread.server.port)
            out = []
            for flow in (FAST, ND, FAST):
                r = c.request(path(flow=flow), PROD)
                out.append((r.headers["flow-job-id"], r.data))
            c.close()
        return out

    first, second = run(), run()
    assert first == second
    assert first[0][0] != first[2][0]


def test_stats_endpoint_reports_scheduling_error(client: RawClient) -> None:
    client.request(path(), PROD)
    stats = client.request("/_flowload/stats", method="GET", body=b"").json()
    assert stats["sched_error_ms"]["count"] >= 5
    assert 0 <= stats["sched_error_ms"]["p50"] < 50
    assert stats["capacity"]["Production"]["slots"] == 200


def test_client_disconnect_releases_the_slot(sim: SimulatorThread) -> None:
    c = RawClient(sim.server.port)
    c.sock.sendall(
        f"GET {path(flow=SLOW)} HTTP/1.1\r\nHost: x\r\nx-api-key: prod-key\r\n\r\n".encode()
    )
    c.sock.recv(100)
    c.close()
    gate = sim.server.capacity.gate("Production")
    deadline = time.monotonic() + 2
    while gate.stats.in_use and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.stats.in_use == 0


def test_random_faults_by_rate_are_seeded_and_logged(tmp_path: Any) -> None:
    raw = {**PROFILE, "fault_rate": 0.5, "faults": {"status:503": 1, "truncate:after=1": 1}}

    def run(log: str) -> list[tuple[int, str | None]]:
        server = build_server(profile_from_dict(raw), seed=5, limit_s=5, log_path=log)
        with SimulatorThread(server) as thread:
            c = RawClient(thread.server.port)
            out = []
            for _ in range(40):
                r = c.request(path(flow=ND), PROD)
                out.append((r.status, r.headers.get("flow-job-id")))
                if r.end != "complete" or r.status != 200:
                    c.close()
                    c = RawClient(thread.server.port)
            c.close()
        return out

    first = run(str(tmp_path / "a.jsonl"))
    assert first == run(str(tmp_path / "b.jsonl"))
    records = [orjson.loads(x) for x in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    outcomes = [r["outcome"] for r in records]
    assert set(outcomes) == {"ok", "http_error", "truncated"}
    assert 10 <= outcomes.count("ok") <= 30
    assert [r["job_id"] for r in records] == [job for _, job in first]
    assert all(r["fault"] in (None, "status:503", "truncate:after=1") for r in records)


def test_flow_fault_in_profile_applies_to_every_stream() -> None:
    raw = {**PROFILE, "flows": [{**PROFILE["flows"][2], "fault": "malformed:at=0"}]}
    server = build_server(profile_from_dict(raw), seed=1, limit_s=5)
    with SimulatorThread(server) as thread:
        c = RawClient(thread.server.port)
        replies = [c.request(path(flow=ND), PROD) for _ in range(3)]
        c.close()
    for reply in replies:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(reply.data.splitlines()[0])


def test_slow_reader_gets_every_byte_after_the_send_buffer_fills(client: RawClient) -> None:
    # 100 items of 60 kB with no gaps overflow the socket buffers while nobody reads, so the
    # pacer must hand the stream back to its greenlet (blocking send) and resume it after.
    headers = {**PROD, "x-flowload-items": "100", "x-flowload-gap-ms": "0"}
    headers |= {"x-flowload-ttfi-ms": "0", "x-flowload-item-bytes": "60000"}
    head = [f"POST {path()} HTTP/1.1", "Host: sim", "Content-Length: 0"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    client.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    time.sleep(0.5)  # let the server fill the buffers and block
    reply = Reply(started=perf_counter())
    client._read(reply)
    items = reply.json()
    assert [i["seq"] for i in items] == list(range(100))
    assert all(len(orjson.dumps(i)) == 60000 for i in items)
