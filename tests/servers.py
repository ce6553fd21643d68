"""A small scripted HTTP server on real sockets (127.0.0.1, OS-chosen port) for tests.

Each response is a *script*: a list of steps, each ``Send(delay_s, data)`` (wait, then send raw
bytes), ``Close(delay_s)`` (FIN) or ``Reset(delay_s)`` (RST via SO_LINGER 0). Delays count from the
previous step, but the server sleeps to an absolute schedule so its jitter does not accumulate.
Builders make common scripts: :func:`chunked`, :func:`content_length`, :func:`close_delimited`,
:func:`gzip_parts`, :func:`json_array_parts`, :func:`response_head`; :func:`assert_on_time`
checks delivery timing.

The server runs in OS threads with plain blocking sockets, so it works both from plain code and
from gevent code (also monkey-patched, where threads become greenlets). Usage::

    with ScriptedServer(chunked([(0.0, b"[1"), (0.2, b",2]")])) as srv:
        client.send(HttpRequest("GET", srv.url("/x")))
        srv.connections      # how many TCP connections were accepted
        srv.requests         # RecordedRequest per request (method, target, headers, body)
        srv.sent_at          # perf_counter() just before each Send step's sendall, in order

``script`` may also be a callable ``(RecordedRequest) -> Script`` to answer per request. Scripts
without Close/Reset keep the connection open for the next request (keep-alive).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True)
class Send:
    """Wait ``delay_s`` after the previous step, then send ``data``."""

    delay_s: float
    data: bytes


@dataclass(frozen=True)
class Close:
    """Wait ``delay_s``, then close the connection normally (FIN)."""

    delay_s: float = 0.0


@dataclass(frozen=True)
class Reset:
    """Wait ``delay_s``, then abort the connection (RST: SO_LINGER on with timeout 0)."""

    delay_s: float = 0.0


Step = Send | Close | Reset
Script = Sequence[Step]
Parts = Iterable[tuple[float, bytes]]


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received: method, target (path?query), lower-cased headers, body.

    ``nth_on_connection`` counts requests on their TCP connection from 1 (2+: kept alive).
    """

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    nth_on_connection: int = 1


def response_head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and headers of a response, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(
    parts: Parts, *, status: int = 200, headers: Sequence[tuple[str, str]] = (), end: bool = True
) -> list[Step]:
    """Chunked response, one chunk per part (empty: just a delay); ``end=False``: no 0-chunk."""
    hdrs = [("Content-Type", "application/json"), *headers, ("Transfer-Encoding", "chunked")]
    steps: list[Step] = [Send(0.0, response_head(status, hdrs))]
    for delay, data in parts:
        steps.append(Send(delay, b"%x\r\n%s\r\n" % (len(data), data) if data else b""))
    if end:
        steps.append(Send(0.0, b"0\r\n\r\n"))
    return steps


def content_length(
    parts: Parts,
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    length: int | None = None,
) -> list[Step]:
    """Content-Length response; ``length`` overrides the true total (e.g. to announce more)."""
    parts = list(parts)
    total = sum(len(d) for _, d in parts) if length is None else length
    hdrs = [("Content-Type", "application/json"), *headers, ("Content-Length", str(total))]
    return [Send(0.0, response_head(status, hdrs)), *(Send(d, b) for d, b in parts)]


def close_delimited(
    parts: Parts, *, status: int = 200, headers: Sequence[tuple[str, str]] = ()
) -> list[Step]:
    """Body ends when the server closes the connection (no length, not chunked)."""
    hdrs = [("Content-Type", "application/json"), *headers, ("Connection", "close")]
    return [Send(0.0, response_head(status, hdrs)), *(Send(d, b) for d, b in parts), Close()]


def gzip_parts(parts: Parts, *, wbits: int = 31) -> list[tuple[float, bytes]]:
    """Compress parts as one stream, sync-flushed per part so each part decodes on arrival.

    ``wbits`` 31 = gzip, 15 = zlib ("deflate" as specified), -15 = raw deflate.
    """
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    out = [(d, comp.compress(b) + comp.flush(zlib.Z_SYNC_FLUSH)) for d, b in parts]
    if out:
        last_delay, last = out[-1]
        out[-1] = (last_delay, last + comp.flush(zlib.Z_FINISH))
    return out


def json_array_parts(items: Sequence[bytes], spacing_s: float) -> list[tuple[float, bytes]]:
    """A compact JSON array, one element per part, ``spacing_s`` apart (no newlines anywhere)."""
    if not items:
        return [(0.0, b"[]")]
    parts = [(0.0, b"[" + items[0])]
    parts += [(spacing_s, b"," + item) for item in items[1:]]
    parts[-1] = (parts[-1][0], parts[-1][1] + b"]")
    return parts


def assert_on_time(errors: list[float]) -> None:
    """Timing check for delivery errors (s): all in [0, 15 ms), all but at most one < 5 ms.

    5 ms is the bar; the one-element allowance absorbs a preempted thread on a busy machine
    (a buffering client would be a whole element interval late, not milliseconds).
    """
    assert all(0 <= e < 0.015 for e in errors), errors
    assert sum(e >= 0.005 for e in errors) <= 1, errors


@dataclass
class _Shared:
    requests: list[RecordedRequest] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedServer:
    """Threaded TCP server replaying scripts; a context manager (starts on enter, stops on exit)."""

    def __init__(
        self,
        script: Script | Callable[[RecordedRequest], Script],
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._script = script
        self._tls = tls
        self._stop = threading.Event()
        self._shared = _Shared()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server (https when started with ``tls``)."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return self._shared.connections

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far, in order."""
        return list(self._shared.requests)

    @property
    def sent_at(self) -> list[float]:
        """``perf_counter()`` just before sending each Send step with data, in order."""
        return list(self._shared.sent_at)

    @property
    def errors(self) -> list[str]:
        """Exceptions the connection threads caught (e.g. TLS handshakes the client refused)."""
        return list(self._shared.errors)

    def __enter__(self) -> ScriptedServer:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting, close every connection, join the threads."""
        self._stop.set()
        self._listener.close()
        for sock in list(self._socks):
            # shutdown() wakes a thread blocked in recv() on it; close() alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            with self._shared.lock:
                self._shared.connections += 1
            self._socks.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        sock: socket.socket = raw
        try:
            raw.settimeout(None)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(raw, server_side=True)
                self._socks.append(sock)
            reader = _RequestReader(sock)
            nth = 0
            while not self._stop.is_set():
                request = reader.next_request()
                if request is None:
                    return
                nth += 1
                request = dataclasses.replace(request, nth_on_connection=nth)
                with self._shared.lock:
                    self._shared.requests.append(request)
                script = self._script(request) if callable(self._script) else self._script
                if not self._play(sock, script):
                    return
        except Exception as exc:  # noqa: BLE001 - recorded for the test to inspect
            self._shared.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def _play(self, sock: socket.socket, script: Script) -> bool:
        """Play one script; False when it closed the connection."""
        due = time.perf_counter()
        for step in script:
            due += step.delay_s
            if self._stop.wait(max(0.0, due - time.perf_counter())):
                return False
            if isinstance(step, Send):
                if step.data:
                    # Stamped before sending: the client may read the bytes before sendall returns.
                    self._shared.sent_at.append(time.perf_counter())
                    sock.sendall(step.data)
            elif isinstance(step, Reset):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return False
            else:
                sock.close()
                return False
        return True


class _RequestReader:
    """Reads HTTP/1.1 requests (Content-Length bodies only) off one connection."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def next_request(self) -> RecordedRequest | None:
        while b"\r\n\r\n" not in self._buf:
            data = self._sock.recv(65536)
            if not data:
                return None
            self._buf += data
        end = self._buf.index(b"\r\n\r\n")
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        method, target, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        while len(self._buf) < size:
            data = self._sock.recv(65536)
            if not data:
                return None
            self._buf += data
        body = bytes(self._buf[:size])
        del self._buf[:size]
        return RecordedRequest(method, target, headers, body)
