"""An unbuffered HTTP/1.1 client on gevent sockets, with httptools (llhttp) parsing responses.

Why not an off-the-shelf client: streaming readers of the usual clients buffer 1-4 KiB, block until
``n`` bytes arrive, or wait for newlines a compact JSON array never sends. Here each ``recv`` that
carries body bytes becomes exactly one :meth:`Response.read` result, stamped with
``time.perf_counter()`` right when ``recv`` returned.

Secrets: request URLs carry API keys in the query string and headers carry them in values, so
errors name ``host:port`` only and :class:`HttpRequest`'s repr redacts both.
"""

from __future__ import annotations

from harness.transport._client import HttpClient
from harness.transport._errors import (
    ConnectError,
    ConnectionLost,
    ProtocolError,
    ReadTimeout,
    RequestError,
    ResponseTimeout,
    TransportError,
)
from harness.transport._request import HttpRequest, TransportOptions
from harness.transport._response import Response

__all__ = [
    "ConnectError",
    "ConnectionLost",
    "HttpClient",
    "HttpRequest",
    "ProtocolError",
    "ReadTimeout",
    "RequestError",
    "Response",
    "ResponseTimeout",
    "TransportError",
    "TransportOptions",
]
