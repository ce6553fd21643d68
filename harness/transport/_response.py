"""Responses: headers via httptools (llhttp), then the body one ``recv`` per read, decoded."""

from __future__ import annotations

import contextlib
import ssl
import zlib
from collections.abc import Callable
from time import perf_counter
from typing import Any

import httptools

from harness.transport._errors import (
    ConnectionLost,
    ProtocolError,
    ReadTimeout,
    StaleConnectionError,
    TransportError,
)


class Conn:
    """One open socket to one endpoint (``key`` = scheme, host, port; ``label`` = host:port)."""

    __slots__ = ("key", "label", "reused", "sock")

    def __init__(self, sock: Any, key: tuple[str, str, int], label: str) -> None:
        self.sock = sock
        self.key = key
        self.label = label
        self.reused = False

    def close(self) -> None:
        """Close the socket; a dead one is fine."""
        with contextlib.suppress(OSError):  # closing a dead socket: nothing left to release
            self.sock.close()


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
    """A response whose body is read incrementally, one ``recv`` per :meth:`read` result."""

    __slots__ = (
        "_conn", "_decoder", "_done", "_eof_ends", "_first", "_head", "_interim", "_keep_alive",
        "_parser", "_pieces", "_recv_bytes", "_release", "_t_end", "headers", "reason", "status",
        "t_headers",
    )  # fmt: skip

    def __init__(
        self, conn: Conn, release: Callable[[Conn], None], *, recv_bytes: int, head: bool = False
    ) -> None:
        self._release = release  # takes the connection back for keep-alive
        self._conn: Conn | None = conn
        self._head = head
        self._recv_bytes = recv_bytes
        self._parser = httptools.HttpResponseParser(self)
        self._pieces: list[bytes] = []
        self._first = True
        self._decoder: _Decoder | None = None
        self._done = False
        self._interim = False
        self._eof_ends = False
        self._keep_alive = False
        self._t_end = 0.0
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.t_headers = 0.0

    # --- httptools callbacks (called from feed_data) ---
    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if (
            100 <= self.status < 200
        ):  # interim (100 Continue, 103 Early Hints): wait for the real one
            self._interim = True
            self.headers = {}
            return
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._eof_ends = not chunked and "content-length" not in self.headers
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
        """Return the next body bytes and the ``perf_counter()`` of their receipt.

        ``(b"", t)`` means the body ended at ``t``. ``timeout_s`` bounds the wait for bytes
        (``None`` waits forever). Raises ReadTimeout, ConnectionLost or ProtocolError.
        """
        if self._first:  # body bytes that came in the headers' recv, stamped with that recv
            self._first = False
            body = self._take_body(b"")
            if body:
                return body, self.t_headers
        deadline = None if timeout_s is None else perf_counter() + timeout_s
        while not self._done:
            data, t = self._recv(deadline)
            body = self._take_body(data) if data else self._on_eof()
            if self._done:
                self._t_end = t
            if body:
                return body, t
        return b"", self._t_end

    def close(self) -> None:
        """Keep the connection alive for reuse if the body was fully read, else close it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._done and self._keep_alive:
                self._release(conn)
            else:
                conn.close()

    def abort(self) -> None:
        """Close the connection without reuse, whatever state the body is in."""
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
        self._done = True
        self._keep_alive = keep_alive

    def _await_headers(self, deadline: float) -> None:
        sock = self._conn.sock  # type: ignore[union-attr]
        got_any = False
        while not self.t_headers:
            sock.settimeout(max(deadline - perf_counter(), 1e-6))
            try:
                data = sock.recv(self._recv_bytes)
            except OSError as exc:
                if got_any or isinstance(exc, TimeoutError):
                    raise
                raise StaleConnectionError from None
            t = perf_counter()
            if not data:
                if got_any:
                    raise ConnectionLost(f"{self._label} closed the connection inside the headers")
                raise StaleConnectionError
            got_any = True
            self._feed(data)
            if self.status >= 200 or self._done:
                self.t_headers = t
        if self._done:
            self._t_end = self.t_headers

    def _recv(self, deadline: float | None) -> tuple[bytes, float]:
        sock = self._conn.sock if self._conn is not None else None
        if sock is None:
            raise TransportError("response is closed; send a new request")
        if deadline is None:
            sock.settimeout(None)
        else:
            remaining = deadline - perf_counter()
            if remaining <= 0:
                raise ReadTimeout(f"no body bytes from {self._label} within the read timeout")
            sock.settimeout(remaining)
        try:
            data = sock.recv(self._recv_bytes)
        except TimeoutError:
            raise ReadTimeout(f"no body bytes from {self._label} within the read timeout") from None
        except ssl.SSLError as exc:
            raise ConnectionLost(f"TLS error reading from {self._label}: {exc.reason}") from None
        except OSError as exc:
            raise ConnectionLost(f"connection to {self._label} lost mid-body: {exc}") from None
        return data, perf_counter()

    def _feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise ProtocolError(f"{self._label} switched protocols, which is unsupported") from None
        except httptools.HttpParserError as exc:
            raise ProtocolError(f"{self._label} sent unparseable HTTP: {exc}") from None

    def _take_body(self, data: bytes) -> bytes:
        """Feed one recv's bytes; return the body bytes they carried (decoded), maybe b""."""
        if data:
            self._feed(data)
        pieces = self._pieces
        if not pieces:
            body = b""
        elif len(pieces) == 1:
            body = pieces[0]
        else:
            body = b"".join(pieces)
        pieces.clear()
        if self._decoder is not None and (body or self._done):
            body = self._decoder.decode(body, final=self._done)
        return body

    def _on_eof(self) -> bytes:
        if self._eof_ends:
            self._finish(keep_alive=False)
            return self._decoder.decode(b"", final=True) if self._decoder else b""
        raise ConnectionLost(
            f"{self._label} closed the connection before the end of the body "
            "(its Content-Length or chunked framing was not complete)"
        )
