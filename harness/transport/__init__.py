"""An unbuffered HTTP/1.1 client on gevent sockets, with httptools (llhttp) parsing responses.

Why not an off-the-shelf client: streaming readers of the usual clients buffer 1-4 KiB, block until
``n`` bytes arrive, or wait for newlines a compact JSON array never sends. Here each socket read
that carries body bytes becomes exactly one :meth:`Response.read` result, stamped with the time
the kernel received its newest bytes (``SO_TIMESTAMPNS``, converted to ``perf_counter()``), or
with the user-space receipt time where the platform has no such stamps. Each read also says how
much earlier its older bytes may have arrived (:meth:`Response.bound`), and the process's
delivery lags and error bounds are collected in :data:`PROCESS_TIMINGS`.

Secrets: request URLs carry API keys in the query string and headers carry them in values, so
errors name ``host:port`` only and :class:`HttpRequest`'s repr redacts both.
"""

from __future__ import annotations

from harness.transport._client import HttpClient, choose_clock, tls_context
from harness.transport._clock import CLOCK_KERNEL, CLOCK_USER, TIMESTAMP_MODES, KernelClock
from harness.transport._errors import (
    ConnectError,
    ConnectionLost,
    ProtocolError,
    ReadTimeout,
    RequestError,
    ResponseTimeout,
    TransportError,
)
from harness.transport._proxy import Proxy, ProxySettings, parse_proxy
from harness.transport._request import HttpRequest, TransportOptions
from harness.transport._response import Response
from harness.transport._timing import PROCESS_TIMINGS, UNCERTAIN_S, ReadTimings, SparseHistogram

__all__ = [
    "CLOCK_KERNEL",
    "CLOCK_USER",
    "PROCESS_TIMINGS",
    "TIMESTAMP_MODES",
    "UNCERTAIN_S",
    "ConnectError",
    "ConnectionLost",
    "HttpClient",
    "HttpRequest",
    "KernelClock",
    "ProtocolError",
    "Proxy",
    "ProxySettings",
    "ReadTimeout",
    "ReadTimings",
    "RequestError",
    "Response",
    "ResponseTimeout",
    "SparseHistogram",
    "TransportError",
    "TransportOptions",
    "choose_clock",
    "parse_proxy",
    "tls_context",
]
