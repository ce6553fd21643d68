"""Responses: headers via httptools (llhttp), then the body one ``recv`` per read, decoded."""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Callable
from time import perf_counter
from typing import Any

import httptools
from gevent import get_hub, getcurrent

from harness.transport._errors import (
    ClosedBeforeResponseError,
    ConnectError,
    ConnectionLost,
    ProtocolError,
    ReadTimeout,
    TransportError,
)
from harness.transport._wire import Wire


class Conn:
    """One open connection to one endpoint (``key`` = scheme, host, port; ``label`` = host:port)."""

    __slots__ = ("key", "label", "reused", "wire")

    def __init__(self, wire: Wire, key: tuple[str, str, int], label: str) -> None:
        self.wire = wire
        self.key = key
        self.label = label
        self.reused = False

    def close(self) -> None:
        """Close the connection; a dead one is fine."""
        self.wire.close()


MAX_HEADER_LINE = 64 * 1024  # one header (name and value) at most
MAX_HEADER_BYTES = 1024 * 1024  # the status line and every header together at most

# TLS alerts that mean "no client certificate, or not this one", and "no protocol in common".
_CLIENT_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
    "HANDSHAKE_FAILURE", "ACCESS_DENIED",
)  # fmt: skip
_H2_FRAME_TYPES = (0x04, 0x07)  # SETTINGS, GOAWAY: what an HTTP/2 server sends first


def looks_like_http2(data: bytes) -> bool:
    """True when ``data`` starts like an HTTP/2 server's first frame (SETTINGS or GOAWAY)."""
    return (
        len(data) >= 9
        and data[3] in _H2_FRAME_TYPES
        and data[5:9] == b"\x00\x00\x00\x00"  # stream 0: connection-level frames
        and not data.startswith(b"HTTP/")
    )


def http2_only(label: str) -> ProtocolError:
    """The error for a server that answered HTTP/1.1 with HTTP/2."""
    return ProtocolError(
        f"{label} speaks only HTTP/2 (it answered with an HTTP/2 frame); flowload speaks "
        "HTTP/1.1: point it at an HTTP/1.1 endpoint (most servers and gateways offer both)",
        "http2",
    )


def tls_failure(reason: str | None, label: str, *, has_cert: bool) -> TransportError:
    """A TLS alert or error while talking: a client-certificate problem is named as such."""
    text = reason or "unknown"
    if any(alert in text.upper() for alert in _CLIENT_CERT_ALERTS):
        if has_cert:
            return ConnectError(
                f"{label} rejected the client certificate ({text}): check that --client-cert "
                "is one its CA signed, and --client-key its key",
                "client_cert",
            )
        return ConnectError(
            f"{label} requires a client certificate ({text}): give --client-cert and "
            "--client-key (or [target] client_cert / client_key)",
            "client_cert",
        )
    if "NO_APPLICATION_PROTOCOL" in text.upper():
        return ConnectError(
            f"{label} offers no HTTP/1.1 (TLS ALPN: {text}): it speaks only HTTP/2; point "
            "flowload at an HTTP/1.1 endpoint",
            "http2",
        )
    return ConnectionLost(f"TLS error talking to {label}: {text}")


class _Wake(Exception):  # noqa: N818 - control flow between the watchdog and _recv only
    """The read watchdog interrupted a wait: check the caller's deadline."""


class _Watchdog:
    """The read deadline of one response, with one timer re-armed only when it must be.

    A gevent socket with a timeout starts a ``Timeout`` (an object and a libev timer) for every
    wait, and a paced stream waits once per item: that was a per-item cost. Here the socket has
    no timeout; a timer armed at the caller's deadline wakes a waiting ``_recv``, which then
    checks the deadline itself. Deadlines of a stream move later as bytes arrive (stall), so the
    timer fires at most about once per stall period instead of being created per read.
    """

    __slots__ = ("_at", "_timer", "waiter")

    def __init__(self) -> None:
        self._timer: Any = None
        self._at = 0.0
        self.waiter: Any = None  # the greenlet blocked in _recv, else None

    def arm(self, deadline: float) -> None:
        """Make sure the timer fires no later than ``deadline`` (early is fine: _recv re-checks)."""
        if self._timer is not None and self._at <= deadline:
            return
        self.cancel()
        timer = get_hub().loop.timer(max(deadline - perf_counter(), 0.0))
        self._timer, self._at = timer, deadline
        timer.start(self._fire)

    def cancel(self) -> None:
        """Stop the timer (the response is done with reading)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.stop()
            timer.close()

    def _fire(self) -> None:
        self.cancel()
        waiter = self.waiter
        if waiter is not None:  # only a greenlet blocked in _recv is interrupted
            waiter.throw(_Wake)


class _Decoder:
    """Incremental Content-Encoding decoding (gzip, deflate with or without zlib header)."""

    __slots__ = ("_encoding", "_label", "_started", "_z")

    def __init__(self, encoding: str, label: str) -> None:
        self._encoding = encoding
        self._label = label
        self._started = False
        # wbits | 32: auto-detect gzip or zlib header.
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)

    def decode(self, data: bytes, *, final: bool) -> bytes:
        if self._encoding not in {"gzip", "x-gzip", "deflate"}:
            raise ProtocolError(
                f"{self._label} sent Content-Encoding {self._encoding!r}, which is not supported; "
                "send 'Accept-Encoding: identity' (the default) or gzip/deflate"
            )
        try:
            out = self._z.decompress(data)
        except zlib.error:
            if self._started or self._encoding != "deflate":
                raise ProtocolError(f"{self._label} sent a corrupt compressed body") from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            return self.decode(data, final=final)
        self._started = True
        return out + self._z.flush() if final else out


class Response:
    """A response whose body is read incrementally, one socket read per :meth:`read` result.

    Besides the bytes and their arrival time, each read says how sure that time is:
    :attr:`tail_exact` (the body piece ended with the newest bytes of its read, so an item it
    completes at its very end is exact) and :meth:`bound` (how much earlier the piece's older
    bytes may have arrived).
    """

    __slots__ = (
        "_chunked", "_conn", "_decoder", "_done", "_eof_ends", "_first", "_has_cert", "_head",
        "_interim", "_keep_alive", "_parser", "_pieces", "_release", "_t_end", "_watchdog",
        "headers", "reason", "resent", "status", "t_headers", "t_sent", "tail_exact",
    )  # fmt: skip

    def __init__(
        self,
        conn: Conn,
        release: Callable[[Conn], None],
        *,
        head: bool = False,
        has_cert: bool = False,
    ) -> None:
        self._release = release  # takes the connection back for keep-alive
        self._conn: Conn | None = conn
        self._head = head
        self._parser = httptools.HttpResponseParser(self)
        self._pieces: list[bytes] = []
        self._first = True
        self._decoder: _Decoder | None = None
        self._done = False
        self._interim = False
        self._eof_ends = False
        self._chunked = False
        self._keep_alive = False
        self._t_end = 0.0
        self._watchdog = _Watchdog()
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.t_headers = 0.0
        self.t_sent = 0.0  # when the request's last byte was sent (perf_counter)
        self.tail_exact = True
        self.resent = 0  # 1 when the request went again on a new connection (never received)
        self._has_cert = has_cert  # a client certificate was offered (for TLS error wording)

    # --- httptools callbacks (called from feed_data) ---
    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_HEADER_LINE:
            raise ProtocolError(
                f"{self._label} sent a response header longer than {MAX_HEADER_LINE // 1024} KiB"
            )
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200:  # interim (100 Continue, 103 Early Hints): wait for more
            self._interim = True
            self.headers = {}
            return
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._eof_ends = not self._chunked and "content-length" not in self.headers
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in {"", "identity"}:
            self._decoder = _Decoder(encoding, self._label)
        if self._head:  # llhttp cannot know a HEAD response has no body
            self._finish(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        self._pieces.append(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif not self._done:
            self._finish(keep_alive=self._parser.should_keep_alive())

    # --- public API ---
    def read(self, timeout_s: float | None = None) -> tuple[bytes, float]:
        """Return the next body bytes and the ``perf_counter()`` time they arrived.

        The time is the kernel's receive stamp of the read's newest bytes where the transport
        has stamps (see :attr:`TransportOptions.timestamps`), else the user-space receipt
        time. ``(b"", t)`` means the body ended at ``t``. ``timeout_s`` bounds the wait for
        bytes (``None`` waits forever). Raises ReadTimeout, ConnectionLost or ProtocolError.
        """
        return self.read_by(None if timeout_s is None else perf_counter() + timeout_s)

    def read_by(self, deadline: float | None) -> tuple[bytes, float]:
        """:meth:`read` with the wait bounded by a ``perf_counter()`` deadline (None: forever).

        A caller that keeps a deadline (a stall or execution limit) saves a clock read per read.
        """
        if self._first:  # body bytes that came in the headers' read, stamped with that read
            self._first = False
            body = self._take_body(b"")
            if body:
                return body, self.t_headers
        while not self._done:
            data, t = self._recv(deadline)
            body = self._take_body(data) if data else self._on_eof()
            if self._done:
                self._t_end = t
            if body:
                return body, t
        return b"", self._t_end

    def bound(self) -> float:
        """How much earlier than its time the last read's older bytes may have arrived (s)."""
        conn = self._conn
        return conn.wire.bound() if conn is not None else 0.0

    def close(self) -> None:
        """Keep the connection alive for reuse if the body was fully read, else close it."""
        self._watchdog.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._done and self._keep_alive:
                self._release(conn)
            else:
                conn.close()

    def abort(self) -> None:
        """Close the connection without reuse, whatever state the body is in."""
        self._watchdog.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @property
    def complete(self) -> bool:
        """True once the body's framing said it ended (all of it was received)."""
        return self._done

    # --- internals ---
    @property
    def _label(self) -> str:
        return self._conn.label if self._conn is not None else "server"

    def _finish(self, *, keep_alive: bool) -> None:
        self._watchdog.cancel()
        self._done = True
        self._keep_alive = keep_alive

    def _await_headers(self, deadline: float) -> None:
        """Read until the final response's headers are in.

        Raises ClosedBeforeResponseError when the connection ends before any byte, ProtocolError
        for headers over :data:`MAX_HEADER_BYTES` (they are never accumulated past it).
        """
        fed = 0
        while not self.t_headers:
            try:
                data, t = self._recv(deadline)
            except ReadTimeout:
                raise TimeoutError from None
            except ConnectionLost:
                if fed:
                    raise
                raise ClosedBeforeResponseError from None
            if not data:
                if fed:
                    raise ConnectionLost(f"{self._label} closed the connection inside the headers")
                raise ClosedBeforeResponseError
            if not fed and looks_like_http2(data):
                raise http2_only(self._label)
            fed += len(data)
            self._feed(data)
            if self.status >= 200 or self._done:
                self.t_headers = t
                self._check_tail(data)
            elif fed > MAX_HEADER_BYTES:
                raise ProtocolError(
                    f"{self._label} sent more than {MAX_HEADER_BYTES // 1024 // 1024} MiB of "
                    "response headers"
                )
        if self._done:
            self._t_end = self.t_headers

    def _recv(self, deadline: float | None) -> tuple[bytes, float]:
        conn = self._conn
        if conn is None:
            raise TransportError("response is closed; send a new request")
        wire, watchdog = conn.wire, self._watchdog
        while True:
            if deadline is not None:
                watchdog.arm(deadline)
            watchdog.waiter = getcurrent()
            try:
                data = wire.receive()
            except _Wake:
                if deadline is not None and deadline - perf_counter() <= 0:
                    raise ReadTimeout(
                        f"no body bytes from {self._label} within the read timeout"
                    ) from None
                continue
            except ssl.SSLError as exc:
                raise tls_failure(exc.reason, self._label, has_cert=self._has_cert) from None
            except OSError as exc:
                raise ConnectionLost(f"connection to {self._label} lost mid-body: {exc}") from None
            finally:
                watchdog.waiter = None
            return data, wire.t

    def _feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise ProtocolError(f"{self._label} switched protocols, which is unsupported") from None
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, TransportError):
                raise exc.__context__ from None  # ours, raised in a callback (a header limit)
            raise ProtocolError(f"{self._label} sent unparseable HTTP: {exc}") from None
        except httptools.HttpParserError as exc:
            raise ProtocolError(f"{self._label} sent unparseable HTTP: {exc}") from None

    def _take_body(self, data: bytes) -> bytes:
        """Feed one read's bytes; return the body bytes they carried (decoded), maybe b""."""
        if data:
            self._feed(data)
        pieces = self._pieces
        if not pieces:
            body = b""
        elif len(pieces) == 1:
            body = pieces[0]
        else:
            body = b"".join(pieces)
        if data and pieces:
            self._check_tail(data)
        pieces.clear()
        if self._decoder is not None and (body or self._done):
            body = self._decoder.decode(body, final=self._done)
        return body

    def _check_tail(self, data: bytes) -> None:
        """Note whether this read ended with its last body piece (and at most the chunk's CRLF).

        Only then can an item completed at the piece's end have come in the read's newest
        segment: bytes after it (the next chunk's size line, the terminating chunk) may have
        come later, in a segment of their own.
        """
        pieces = self._pieces
        if not pieces or not self._conn or not self._conn.wire.aligned:
            self.tail_exact = False
            return
        last = pieces[-1][-8:]
        if self._chunked:
            self.tail_exact = data.endswith(b"\r\n") and data[-2 - len(last) : -2] == last
        else:
            self.tail_exact = data[-len(last) :] == last

    def _on_eof(self) -> bytes:
        if self._eof_ends:
            self._finish(keep_alive=False)
            return self._decoder.decode(b"", final=True) if self._decoder else b""
        raise ConnectionLost(
            f"{self._label} closed the connection before the end of the body "
            "(its Content-Length or chunked framing was not complete)"
        )
