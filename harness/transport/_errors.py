"""The transport's typed errors: messages name ``host:port`` only, never URLs or header values."""

from __future__ import annotations

from harness.errors import FlowloadError


class TransportError(FlowloadError):
    """Base of the transport's errors; messages name ``host:port`` only, never URLs or headers."""


class RequestError(TransportError):
    """The request itself is invalid (bad URL, method or header); nothing was sent."""


class ConnectError(TransportError):
    """No connection: DNS failure, refused, connect timeout, TLS handshake or verification failure.

    ``kind`` is one of ``dns``, ``refused``, ``timeout``, ``tls``, ``unreachable``, ``os``.
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
    """The server sent something that is not parseable HTTP/1.x (or an unsupported encoding)."""


class StaleConnectionError(Exception):
    """A reused keep-alive connection was closed by the server before any response byte."""
