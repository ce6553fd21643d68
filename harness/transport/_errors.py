"""The transport's typed errors: messages name ``host:port`` only, never URLs or header values."""

from __future__ import annotations

from harness.errors import FlowloadError


class TransportError(FlowloadError):
    """Base of the transport's errors; messages name ``host:port`` only, never URLs or headers."""


class RequestError(TransportError):
    """The request itself is invalid (bad URL, method or header); nothing was sent."""


class ConnectError(TransportError):
    """No usable connection: DNS, refused, timeout, TLS, proxy, client certificate, protocol.

    ``kind`` is one of ``dns``, ``refused``, ``timeout``, ``tls``, ``unreachable``, ``os``,
    ``proxy`` (the proxy is unreachable or refused the tunnel), ``proxy_auth`` (407),
    ``client_cert`` (the server wants a client certificate, or rejected the one given) and
    ``http2`` (the server speaks only HTTP/2).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ResponseTimeout(TransportError):  # noqa: N818 (agreed API name)
    """No complete response headers within ``response_timeout_s``."""


class ReadTimeout(TransportError):  # noqa: N818 (agreed API name)
    """The caller's per-read timeout passed without any body bytes."""


class ConnectionLost(TransportError):  # noqa: N818 (agreed API name)
    """Reset or EOF before the body's framing (length or chunking) says it is complete."""


class ProtocolError(TransportError):
    """The server sent something that is not HTTP/1.x as flowload speaks it.

    Unparseable responses, oversized headers, unsupported encodings, and ``http2_only`` (the
    server answered with HTTP/2 frames) when :attr:`kind` says so.
    """

    def __init__(self, message: str, kind: str = "protocol") -> None:
        super().__init__(message)
        self.kind = kind


class NotSentError(Exception):
    """Not one byte of the request left: the first send call failed (the connection is dead)."""


class ClosedBeforeResponseError(Exception):
    """The connection ended (EOF or reset) before any byte of the response."""
