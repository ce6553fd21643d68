"""The HTTP/1.1 client: connections (TCP; TLS over memory BIOs), keep-alive pool, requests."""

from __future__ import annotations

import socket
import ssl
from functools import lru_cache
from time import perf_counter

import gevent
import gevent.socket

from harness import __version__
from harness.errors import ConfigError
from harness.transport._clock import (
    CLOCK_KERNEL,
    CLOCK_USER,
    KernelClock,
    enable_kernel_stamps,
    kernel_stamps_refusal,
)
from harness.transport._errors import (
    ClosedBeforeResponseError,
    ConnectError,
    ConnectionLost,
    NotSentError,
    ResponseTimeout,
    TransportError,
)
from harness.transport._loopwatch import loop_watch
from harness.transport._proxy import Proxy, open_tunnel
from harness.transport._request import HttpRequest, Target, TransportOptions, parse_target
from harness.transport._response import Conn, Response, tls_failure
from harness.transport._timing import PROCESS_TIMINGS, ReadTimings
from harness.transport._trust import load_client_cert, load_trust
from harness.transport._wire import TlsWire, Wire

_USER_AGENT = f"flowload/{__version__}"
_MAX_IDLE_PER_ENDPOINT = 8
_DEFAULT_OPTIONS = TransportOptions()


def tls_context(options: TransportOptions) -> ssl.SSLContext:
    """The client TLS context for these options (ConfigError naming the file that is unusable).

    Call it once at start to check CA bundle and client certificate before any load.
    """
    return _tls_context(
        options.verify_tls, options.ca_bundle, options.client_cert, options.client_key
    )


@lru_cache(maxsize=8)
def _tls_context(
    verify: bool,  # noqa: FBT001 (cache key)
    ca_bundle: str | None,
    client_cert: str | None,
    client_key: str | None,
) -> ssl.SSLContext:
    """One SSL context per setting (the cache key), shared: loading CA certificates is not free."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        load_trust(ctx, ca_bundle)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        load_client_cert(ctx, client_cert, client_key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _connect_failure(  # noqa: PLR0911
    exc: BaseException, label: str, *, has_cert: bool = False
) -> TransportError:
    """Map a socket/TLS exception to a ConnectError that names host:port (or the proxy) only."""
    if isinstance(exc, socket.gaierror):
        kind = "proxy" if label.startswith("proxy ") else "dns"
        return ConnectError(f"cannot resolve {label}: check the host name", kind)
    if isinstance(exc, ConnectionRefusedError):
        kind = "proxy" if label.startswith("proxy ") else "refused"
        return ConnectError(f"{label} refused the connection: is the server up, port right?", kind)
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
        failure = tls_failure(exc.reason, label, has_cert=has_cert)
        if isinstance(failure, ConnectError):
            return failure
        return ConnectError(f"TLS handshake with {label} failed: {exc.reason}", "tls")
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in _UNREACHABLE:
        return ConnectError(f"{label} is unreachable: check the network route", "unreachable")
    return ConnectError(f"cannot connect to {label}: {type(exc).__name__} {exc}", "os")


_UNREACHABLE = frozenset({101, 113})  # ENETUNREACH, EHOSTUNREACH


def _discard(wire: Wire | None, raw: socket.socket | None) -> None:
    """Close what a failed connection attempt opened."""
    if wire is not None:
        wire.close()
    elif raw is not None:
        raw.close()


def _open_socket(host: str, port: int) -> socket.socket:
    """A connected, non-blocking TCP socket with Nagle off (gevent resolves and connects)."""
    sock = gevent.socket.create_connection((host, port))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return socket.socket(fileno=sock.detach())
    except OSError:
        sock.close()
        raise


_KERNEL_CLOCK: list[KernelClock] = []


def choose_clock(mode: str) -> tuple[str, str | None]:
    """The clock item times use for ``mode`` (auto/kernel/user), and why not kernel if not.

    Raises ConfigError when kernel stamps are demanded and the platform refuses them.
    """
    if mode == CLOCK_USER:
        return CLOCK_USER, "user-space receipt times were asked for (--timestamps user)"
    refusal = kernel_stamps_refusal()
    if refusal is None:
        return CLOCK_KERNEL, None
    if mode == CLOCK_KERNEL:
        raise ConfigError(f"--timestamps kernel: {refusal}; use --timestamps auto or user")
    return CLOCK_USER, refusal


def _kernel_clock() -> KernelClock:
    """The process's stamp converter (one pairing of the clocks serves every connection)."""
    if not _KERNEL_CLOCK:
        _KERNEL_CLOCK.append(KernelClock())
    return _KERNEL_CLOCK[0]


class HttpClient:
    """HTTP/1.1 client with per-endpoint keep-alive; not shared between greenlets at once.

    ``timings`` collects delivery lags (and, from the measurement, error bounds) of this
    client's reads: by default the process's :data:`PROCESS_TIMINGS`.
    """

    def __init__(
        self, options: TransportOptions = _DEFAULT_OPTIONS, timings: ReadTimings = PROCESS_TIMINGS
    ) -> None:
        self._options = options
        self._timings = timings
        self._idle: dict[tuple[str, str, int], list[Conn]] = {}
        self._closed = False
        self.clock, self.clock_note = choose_clock(options.timestamps)

    @property
    def timings(self) -> ReadTimings:
        """Where this client's read timings go."""
        return self._timings

    @property
    def options(self) -> TransportOptions:
        """The settings this client was made with."""
        return self._options

    def send(self, request: HttpRequest) -> Response:
        """Send ``request``; return once the response headers are in (body unread).

        A request is sent again only when it provably never left: the very first send call
        on a reused keep-alive connection failed. Then ``Response.resent`` is 1.
        """
        if self._closed:
            raise TransportError("this HttpClient is closed; create a new one")
        target = parse_target(request.url)
        proxy = self._options.proxies.for_target(target.scheme, target.host, target.port)
        payload = self._encode(request, target, proxy)
        conn = self._checkout(target)
        try:
            response = self._exchange(conn, payload, request.method)
        except NotSentError:
            if not conn.reused:
                raise _refusal(conn, has_cert=bool(self._options.client_cert)) from None
            conn.close()
            response = self._exchange(self._connect(target), payload, request.method)
            response.resent = 1
        if response.status == 407 and proxy is not None:
            response.abort()  # plain http through a proxy: its 407 is the proxy's, not the API's
            raise ConnectError(
                f"{proxy.label} wants credentials (407 Proxy Authentication Required): put "
                "them in the proxy URL, http://user:password@host:port",
                "proxy_auth",
            )
        return response

    def close(self) -> None:
        """Close every idle connection; responses still open close their own on ``close()``."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _encode(self, request: HttpRequest, target: Target, proxy: Proxy | None) -> bytes:
        names = {name.lower() for name, _ in request.headers}
        # Through a proxy, plain http goes in absolute form (RFC 9112 3.2.2), with the proxy's
        # credentials; https goes through a CONNECT tunnel, so the proxy sees no request.
        via = proxy is not None and target.scheme == "http"
        path = f"http://{target.host_header}{target.path}" if via else target.path
        lines = [f"{request.method} {path} HTTP/1.1"]
        if via and proxy is not None and proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
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
            if not conn.wire.readable_now():
                conn.reused = True
                return conn
            conn.close()
        return self._connect(target)

    def _connect(self, target: Target) -> Conn:
        label = target.label
        proxy = self._options.proxies.for_target(target.scheme, target.host, target.port)
        if proxy is None and target.host.lower().rstrip(".").endswith(".invalid"):
            # RFC 6761: ".invalid" never resolves; answer without asking a resolver.
            raise ConnectError(f"cannot resolve {label}: '.invalid' names never exist", "dns")
        timer = gevent.Timeout(self._options.connect_timeout_s)
        timer.start()
        raw: socket.socket | None = None
        wire: Wire | None = None
        stage = proxy.label if proxy is not None else label  # what a failure is about
        try:
            address = (proxy.host, proxy.port) if proxy is not None else (target.host, target.port)
            raw = _open_socket(*address)
            if proxy is not None and target.scheme == "https":
                open_tunnel(raw, proxy, label)
            stage = label
            wire = self._wire(raw, target)
            if isinstance(wire, TlsWire):
                wire.handshake()
        except BaseException as exc:
            _discard(wire, raw)
            if (isinstance(exc, gevent.Timeout) and exc is timer) or isinstance(exc, OSError):
                raise _connect_failure(
                    exc, stage, has_cert=bool(self._options.client_cert)
                ) from None
            raise  # ours already (ConnectError, ConfigError), or somebody else's timeout
        finally:
            timer.close()
        return Conn(wire, (target.scheme, target.host, target.port), label)

    def _wire(self, raw: socket.socket, target: Target) -> Wire:
        """Wrap a connected socket: kernel stamps where wanted and granted, TLS for https."""
        options = self._options
        clock = None
        if self.clock == CLOCK_KERNEL or options.stamp_lags:
            refusal = enable_kernel_stamps(raw)
            if refusal is None:
                clock = _kernel_clock()
            elif self.clock == CLOCK_KERNEL:  # granted to a probe, refused here: say so
                self.clock, self.clock_note = CLOCK_USER, refusal
        kernel_times = clock is not None and self.clock == CLOCK_KERNEL
        self._timings.clock = self.clock
        kw = {
            "recv_bytes": options.recv_bytes,
            "timings": self._timings,
            "clock": clock,
            "watch": loop_watch() if kernel_times else None,
            "kernel_times": kernel_times,
        }
        if target.scheme != "https":
            return Wire(raw, target.label, **kw)  # type: ignore[arg-type]
        return TlsWire(
            raw,
            target.label,
            context=tls_context(options),
            server_hostname=target.host,
            **kw,  # type: ignore[arg-type]
        )

    def _exchange(self, conn: Conn, payload: bytes, method: str) -> Response:
        has_cert = bool(self._options.client_cert)
        response = Response(conn, self._release, head=method.upper() == "HEAD", has_cert=has_cert)
        deadline = perf_counter() + self._options.response_timeout_s
        try:
            timer = gevent.Timeout(self._options.response_timeout_s, TimeoutError)
            timer.start()
            try:
                conn.wire.send_all(payload)
            finally:
                timer.close()
            response.t_sent = conn.wire.empty_at  # the start of the request's last send call
            response._await_headers(deadline)
        except NotSentError:
            raise  # the caller decides: send again on a new connection, or say why not
        except ClosedBeforeResponseError:
            conn.close()
            raise _closed_before_response(conn) from None
        except ssl.SSLError as exc:
            conn.close()
            raise tls_failure(exc.reason, conn.label, has_cert=has_cert) from None
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


def _refusal(conn: Conn, *, has_cert: bool) -> TransportError:
    """Why a new connection took not one byte of the request: a TLS alert waiting, if any.

    A TLS 1.3 server that wants a client certificate finishes the handshake, then sends its
    alert and closes: by the time the request is written, the reason is in the socket.
    """
    try:
        with gevent.Timeout(1.0, TimeoutError):
            conn.wire.receive()
    except ssl.SSLError as exc:
        return tls_failure(exc.reason, conn.label, has_cert=has_cert)
    except (OSError, TransportError):
        pass  # nothing more to learn: the plain refusal below
    finally:
        conn.close()
    return ConnectionLost(f"{conn.label} closed the connection before the request could be sent")


def _closed_before_response(conn: Conn) -> ConnectionLost:
    """The connection ended after the request left and before any response byte."""
    if conn.reused:
        return ConnectionLost(
            f"{conn.label} closed a reused keep-alive connection after the request was sent "
            "and before any response byte; the request may have run on the server, so it was "
            "not sent again"
        )
    return ConnectionLost(f"{conn.label} closed the connection before responding")


def _response_failure(exc: OSError, label: str) -> TransportError:
    if isinstance(exc, TimeoutError):
        return ResponseTimeout(f"no response headers from {label} within the response timeout")
    if isinstance(exc, ssl.SSLError):
        return ConnectionLost(f"TLS error talking to {label}: {exc.reason}")
    return ConnectionLost(f"connection to {label} lost while waiting for the response: {exc}")
