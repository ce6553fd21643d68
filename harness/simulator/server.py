"""The simulator's HTTP/1.1 server: a lean gevent ``StreamServer`` with the httptools parser.

One greenlet per connection; keep-alive after complete responses; each stream is planned,
admitted through the env's capacity gate, then sent by a :class:`Streamer`.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import httptools
import orjson
from gevent.server import StreamServer

from harness.errors import ConfigError
from harness.simulator.capacity import Capacity
from harness.simulator.faults import FaultKind
from harness.simulator.pacer import Pacer
from harness.simulator.profiles import Profile
from harness.simulator.routes import STATS_PATH, Admit, Reject, route
from harness.simulator.send_log import SchedStats, StreamLog
from harness.simulator.send_plan import StreamPlan, make_plan, stream_rngs
from harness.simulator.streamer import StreamEnd, Streamer

_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
# Idle keep-alive connections and stuck sends give up after this long (Kestrel's default
# KeepAliveTimeout is 130 s).
SOCKET_TIMEOUT_S = 130.0


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool
    body_bytes: int


@dataclass(slots=True)
class _Protocol:
    """httptools callbacks: collect complete requests (body size only; the body is ignored)."""

    sock: socket.socket
    parser: Any = None
    done: list[_Request] = field(default_factory=list)
    url: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    body: int = 0

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        if self.headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body += len(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        keep = bool(self.parser.should_keep_alive())
        self.done.append(
            _Request(method, self.url.decode("latin-1"), self.headers, keep, self.body)
        )


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _tls_context(cert: str, key: str, *, client_ca: str | None = None) -> ssl.SSLContext:
    """A server TLS context from PEM files (ConfigError naming the file when unusable).

    With ``client_ca``, clients must present a certificate that CA signed (mutual TLS).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(cafile=client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert} / key {key}: {exc}") from None
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class SimulatorServer:
    """A simulated Flow "Run streaming" service. ``start()`` binds; ``url`` tells where."""

    def __init__(
        self,
        profile: Profile,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        limit_s: float = 300.0,
        log_path: str | None = None,
        tls: tuple[str, str] | None = None,
        client_ca: str | None = None,
    ) -> None:
        if limit_s <= 0:
            raise ConfigError(f"the execution limit must be > 0 s, got {limit_s}")
        if client_ca and not tls:
            raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (it is for HTTPS)")
        self._tls = _tls_context(*tls, client_ca=client_ca) if tls else None
        self.profile = profile
        self.seed = seed
        self.limit_s = limit_s
        self.stats = SchedStats()
        self.capacity = Capacity({n: (e.slots, e.queue) for n, e in profile.envs.items()})
        self._log = StreamLog(log_path)
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        self._address = (host, port)
        self._server: StreamServer | None = None
        self._pacer: Pacer | None = None
        self._host = host

    def start(self) -> None:
        """Bind and start accepting (in the current gevent hub)."""
        # Created here, not in __init__: a gevent server belongs to the hub of the thread
        # that starts it (SimulatorThread builds in one thread and serves in another).
        extra: dict[str, Any] = {}
        if self._tls is not None:
            # Handshake in _handle, where a refused client (no certificate...) is one quiet end.
            extra = {"ssl_context": self._tls, "do_handshake_on_connect": False}
        self._server = StreamServer(self._address, self._handle, backlog=4096, **extra)
        self._pacer = Pacer(self.stats)
        try:
            self._server.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self._host}: {exc.strerror}") from None

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started: call start() first")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the running server."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, give streams ``timeout`` s, then kill them; close the log."""
        if self._server is not None:
            self._server.stop(timeout=timeout)
        self._log.close()

    def snapshot(self) -> dict[str, Any]:
        """Scheduling error, counters and capacity, as served on ``/_flowload/stats``."""
        return {**self.stats.snapshot(), "capacity": self.capacity.snapshot()}

    def _handle(self, sock: socket.socket, _address: object) -> None:
        if self._tls is not None:
            try:
                sock.do_handshake()  # type: ignore[attr-defined]
            except (ssl.SSLError, OSError):
                return  # a client the TLS settings refuse: nothing more to say to it
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(SOCKET_TIMEOUT_S)
        proto = _Protocol(sock)
        parser = httptools.HttpRequestParser(proto)
        proto.parser = parser
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError:
                    body = orjson.dumps({"status": 400, "title": "Bad Request"})
                    sock.sendall(_head(400, [("Content-Length", str(len(body)))]) + body)
                    return
                while proto.done:
                    request = proto.done.pop(0)
                    if not self._serve(sock, request) or not request.keep_alive:
                        return
        except OSError:
            return  # the client went away between requests

    def _serve(self, sock: socket.socket, req: _Request) -> bool:
        """Answer one request; True when the connection can carry the next one."""
        t0 = perf_counter()
        if req.target in (STATS_PATH, STATS_PATH + "/reset"):
            if req.method == "POST" and req.target.endswith("/reset"):
                self.stats.reset()  # benchmarks measure a window after their ramp-up
            self._send_json(sock, 200, self.snapshot(), [])
            return True
        decision = route(req.method, req.target, req.headers, self.profile)
        if isinstance(decision, Reject):
            self._reject(sock, decision, [(k, v) for k, v in decision.headers])
            end = _End(decision.outcome, status=decision.status)
            self._record(end, t0, env=decision.env, flow=decision.flow)
            return True
        return self._stream(sock, decision, t0)

    def _plan(self, admit: Admit) -> StreamPlan:
        key = (admit.env, admit.flow.id)
        seq = self._seq[key]
        self._seq[key] = seq + 1
        rng, fault_rng = stream_rngs(self.seed, admit.env, admit.flow.id, seq)
        mix = self.profile.faults
        if admit.flow.fault_rate is not None:
            mix = mix.with_rate(admit.flow.fault_rate)
        random_fault = mix.pick(fault_rng)
        fault = admit.fault or admit.flow.fault or random_fault
        env = self.profile.envs[admit.env]
        return make_plan(admit.flow, env, rng, admit.overrides, fault)

    def _stream(self, sock: socket.socket, admit: Admit, t0: float) -> bool:
        plan = self._plan(admit)
        env = self.profile.envs[admit.env]
        deadline = t0 + self.limit_s
        gate = self.capacity.gate(admit.env)
        entered = gate.enter(timeout=max(0.0, deadline - perf_counter()))
        if not entered:
            status = env.reject_status if entered is False else 503
            detail = f"{admit.env} is at capacity ({gate.slots} running, {gate.queue} queued)"
            rej = Reject(status, _REASONS[status], detail, f"rejected_{status}")
            self._reject(sock, rej, [("Retry-After", str(env.retry_after_s))])
            end = _End(rej.outcome, status=status)
            self._record(end, t0, env=admit.env, flow=admit.flow.name, plan=plan)
            return True
        counters = self.stats.counters
        counters.streams_started += 1
        counters.streams_active += 1
        self.stats.max_active = max(self.stats.max_active, counters.streams_active)
        try:
            started = perf_counter()
            end = self._respond(sock, plan, started, deadline)
        finally:
            counters.streams_active -= 1
            gate.leave()
        self._record(end, t0, env=admit.env, flow=admit.flow.name, plan=plan, started=started)
        return end.reusable

    def _respond(
        self, sock: socket.socket, plan: StreamPlan, started: float, deadline: float
    ) -> _End:
        fault = plan.fault
        job = [("flow-job-id", plan.job_id)]
        if fault is not None and fault.kind is FaultKind.STATUS:
            rej = Reject(fault.status, _REASONS.get(fault.status, "Error"), "injected fault", "")
            self._reject(sock, rej, job)
            return _End("http_error", status=fault.status, reusable=True)
        head = [("Content-Type", plan.content_type), ("Transfer-Encoding", "chunked"), *job]
        try:
            sock.sendall(_head(200, head))
        except OSError:
            return _End("client_gone", status=200)
        result = Streamer(sock, plan, started, deadline, self.stats, pacer=self._pacer).run()
        return _End.of(result)

    def _reject(self, sock: socket.socket, rej: Reject, extra: list[tuple[str, str]]) -> None:
        body = {"status": rej.status, "title": rej.title, "detail": rej.detail}
        self._send_json(sock, rej.status, body, extra)

    @staticmethod
    def _send_json(
        sock: socket.socket, status: int, body: dict[str, Any], extra: list[tuple[str, str]]
    ) -> None:
        data = orjson.dumps(body)
        head = [("Content-Type", "application/json; charset=utf-8")]
        head += [("Content-Length", str(len(data))), *extra]
        sock.sendall(_head(status, head) + data)

    def _record(
        self,
        end: _End,
        t0: float,
        *,
        env: str | None,
        flow: str | None,
        plan: StreamPlan | None = None,
        started: float | None = None,
    ) -> None:
        now = perf_counter()
        rejected = end.outcome.startswith("rejected_")
        self._log.write({
            "t": round(time.time() - (now - t0), 6),
            # Rejected requests never started a job, so they have no id to trace.
            "job_id": plan.job_id if plan and not rejected else None,
            "env": env,
            "flow": flow,
            "flow_id": plan.flow.id if plan else None,
            "status": end.status,
            "outcome": end.outcome,
            "items": end.items,
            "bytes": end.bytes,
            "planned_items": plan.count if plan else None,
            "planned_ttfi_ms": round(plan.ttfi_s * 1000, 3) if plan else None,
            "queue_ms": round((started - t0) * 1000, 3) if started is not None else None,
            "duration_ms": round((now - t0) * 1000, 3),
            "fault": plan.fault.spec if plan and plan.fault else None,
            # perf_counter() seconds (CLOCK_MONOTONIC: comparable with a client on this machine)
            # when the request was read, and just before each item's send call.
            "request_at": round(t0, 6),
            "sent_at": [round(t, 6) for t in end.sends],
        })  # fmt: skip


@dataclass(slots=True)
class _End:
    outcome: str
    items: int = 0
    bytes: int = 0
    status: int = 200
    reusable: bool = False
    sends: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, end: StreamEnd) -> _End:
        return cls(end.outcome, end.items, end.bytes, 200, end.reusable, end.sends)
