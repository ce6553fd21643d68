"""The HTTP/1.1 client: connections (TCP, TLS via gevent), keep-alive pool, request encoding."""

from __future__ import annotations

import socket
import ssl
from functools import lru_cache
from time import perf_counter
from typing import Any

import gevent
import gevent.select
import gevent.socket
import gevent.ssl

from harness import __version__
from harness.errors import ConfigError
from harness.transport._errors import (
    ConnectError,
    ConnectionLost,
    ResponseTimeout,
    StaleConnectionError,
    TransportError,
)
from harness.transport._request import HttpRequest, Target, TransportOptions, parse_target
from harness.transport._response import Conn, Response

_USER_AGENT = f"flowload/{__version__}"
_MAX_IDLE_PER_ENDPOINT = 8
_DEFAULT_OPTIONS = TransportOptions()


@lru_cache(maxsize=8)
def _tls_context(verify: bool, ca_bundle: str | None) -> Any:  # noqa: FBT001 (cache key)
    """One gevent SSL context per setting, shared: loading CA certificates is not free."""
    ctx = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        try:
            if ca_bundle:
                ctx.load_verify_locations(cafile=ca_bundle)
            else:
                ctx.load_default_certs()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load CA bundle {ca_bundle!r}: {exc}") from None
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _connect_failure(exc: BaseException, label: str) -> ConnectError:  # noqa: PLR0911
    """Map a socket/TLS exception to a ConnectError that names host:port only."""
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve {label}: check the host name", "dns")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(
            f"{label} refused the connection: is the server up, port right?", "refused"
        )
    if isinstance(exc, TimeoutError | gevent.Timeout):
        return ConnectError(
            f"connecting to {label} timed out: check host, port, firewall", "timeout"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectError(
            f"TLS certificate of {label} failed verification ({exc.verify_message}): "
            "pass a CA bundle, or verify_tls=False for test servers only",
            "tls",
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectError(f"TLS handshake with {label} failed: {exc.reason}", "tls")
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in _UNREACHABLE:
        return ConnectError(f"{label} is unreachable: check the network route", "unreachable")
    return ConnectError(f"cannot connect to {label}: {type(exc).__name__} {exc}", "os")


_UNREACHABLE = frozenset({101, 113})  # ENETUNREACH, EHOSTUNREACH


class HttpClient:
    """HTTP/1.1 client with per-endpoint keep-alive; not shared between greenlets at once."""

    def __init__(self, options: TransportOptions = _DEFAULT_OPTIONS) -> None:
        self._options = options
        self._idle: dict[tuple[str, str, int], list[Conn]] = {}
        self._closed = False

    @property
    def options(self) -> TransportOptions:
        """The settings this client was made with."""
        return self._options

    def send(self, request: HttpRequest) -> Response:
        """Send ``request``; return once the response headers are in (body unread)."""
        if self._closed:
            raise TransportError("this HttpClient is closed; create a new one")
        target = parse_target(request.url)
        payload = self._encode(request, target)
        conn = self._checkout(target)
        try:
            return self._exchange(conn, payload, request.method)
        except StaleConnectionError:
            return self._exchange(self._connect(target), payload, request.method)

    def close(self) -> None:
        """Close every idle connection; responses still open close their own on ``close()``."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _encode(self, request: HttpRequest, target: Target) -> bytes:
        names = {name.lower() for name, _ in request.headers}
        lines = [f"{request.method} {target.path} HTTP/1.1"]
        if "host" not in names:
            lines.append(f"Host: {target.host_header}")
        if "user-agent" not in names:
            lines.append(f"User-Agent: {_USER_AGENT}")
        if "accept-encoding" not in names and self._options.accept_encoding:
            lines.append(f"Accept-Encoding: {self._options.accept_encoding}")
        lines.extend(f"{name}: {value}" for name, value in request.headers)
        body = request.body
        if body is not None or request.method.upper() in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body if body else head

    def _checkout(self, target: Target) -> Conn:
        key = (target.scheme, target.host, target.port)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            # Readable while idle means EOF (server closed it) or junk: never reuse that one.
            readable, _, _ = gevent.select.select([conn.sock], [], [], 0)
            if not readable:
                conn.reused = True
                return conn
            conn.close()
        return self._connect(target)

    def _connect(self, target: Target) -> Conn:
        label = target.label
        if target.host.lower().rstrip(".").endswith(".invalid"):
            # RFC 6761: ".invalid" never resolves; answer without asking a resolver.
            raise ConnectError(f"cannot resolve {label}: '.invalid' names never exist", "dns")
        timer = gevent.Timeout(self._options.connect_timeout_s)
        timer.start()
        sock = None
        try:
            sock = gevent.socket.create_connection((target.host, target.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "https":
                ctx = _tls_context(self._options.verify_tls, self._options.ca_bundle)
                sock = ctx.wrap_socket(sock, server_hostname=target.host)
        except (OSError, gevent.Timeout) as exc:
            if isinstance(exc, gevent.Timeout) and exc is not timer:
                raise  # somebody else's timeout: not ours to translate
            if sock is not None:
                sock.close()
            raise _connect_failure(exc, label) from None
        finally:
            timer.close()
        return Conn(sock, (target.scheme, target.host, target.port), label)

    def _exchange(self, conn: Conn, payload: bytes, method: str) -> Response:
        response = Response(
            conn, self._release, recv_bytes=self._options.recv_bytes, head=method.upper() == "HEAD"
        )
        deadline = perf_counter() + self._options.response_timeout_s
        try:
            conn.sock.settimeout(self._options.response_timeout_s)
            try:
                conn.sock.sendall(payload)
            except OSError as exc:
                if isinstance(exc, TimeoutError):
                    raise
                raise StaleConnectionError from None
            response._await_headers(deadline)
        except StaleConnectionError:
            conn.close()
            if not conn.reused:
                raise ConnectionLost(
                    f"{conn.label} closed the connection before responding"
                ) from None
            raise
        except OSError as exc:
            conn.close()
            raise _response_failure(exc, conn.label) from None
        except BaseException:
            conn.close()
            raise
        return response

    def _release(self, conn: Conn) -> None:
        """Take back a connection whose response was fully read and may be kept alive."""
        idle = self._idle.setdefault(conn.key, [])
        if self._closed or len(idle) >= _MAX_IDLE_PER_ENDPOINT:
            conn.close()
        else:
            idle.append(conn)


def _response_failure(exc: OSError, label: str) -> TransportError:
    if isinstance(exc, TimeoutError):
        return ResponseTimeout(f"no response headers from {label} within the response timeout")
    if isinstance(exc, ssl.SSLError):
        return ConnectionLost(f"TLS error talking to {label}: {exc.reason}")
    return ConnectionLost(f"connection to {label} lost while waiting for the response: {exc}")
