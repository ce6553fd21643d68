"""Measure one stream: send, read every body byte as it arrives, and decide exactly one Outcome.

Times are ``perf_counter()`` seconds from ``t0``: the request start, or in arrival-rate mode the
*intended* start (coordinated-omission correction; ``schedule_lag_s`` says how late the real start
was). An item's arrival time is the arrival time of the read that completed it: the kernel's
receive stamp of the read's newest bytes where the transport has stamps, else the moment the read
returned. Items completed by one read are 0 s apart: that is what the bytes say.

With kernel stamps, an item that ended its read (only separators after it) is exact; items
followed by more bytes in the same read may have arrived earlier, by up to the read's bound
(:meth:`Response.bound`): they are recorded in the client's read timings, so a run can say how
far its item times can be off.

The execution limit is the server's promise: it is judged from the moment the request was sent,
with a small grace for the transfer of the last bytes (1 % of the limit, at least 50 ms). A
stream still streaming then, or one that completed only after it, is ``limit_exceeded``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.reader import (
    ItemFormat,
    ItemReader,
    ItemTooLargeError,
    MalformedError,
    ReaderError,
    TruncatedError,
    format_from_content_type,
)
from harness.results.stream import Outcome, StreamResult
from harness.run.redirects import REDIRECT_STATUSES, RedirectError, next_request
from harness.secrets import mask_echoes, redact_url, request_secrets
from harness.transport import (
    CLOCK_KERNEL,
    ConnectError,
    ConnectionLost,
    HttpClient,
    HttpRequest,
    ProtocolError,
    ReadTimeout,
    ReadTimings,
    Response,
    ResponseTimeout,
    TransportError,
)

ReaderFactory = Callable[[ItemFormat | None], ItemReader]

_ERROR_BODY_CHARS = 200
_ERROR_BODY_WAIT_S = 2.0  # an error body comes at once; do not let a slow one hold the stream


GRACE_SHARE = 0.01  # transfer grace after the limit: 1 % of it ...
MIN_GRACE_S = 0.05  # ... and at least this


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How long a stream may take before the harness calls it stalled or over the limit.

    ``limit_grace_s`` (default: 1 % of the limit, at least 50 ms) is time for the last bytes to
    travel, counted after the limit from the moment the request was sent.
    """

    limit_s: float = 300.0
    stall_timeout_s: float = 60.0
    limit_grace_s: float | None = None

    def __post_init__(self) -> None:
        grace = self.limit_grace_s
        if not (self.limit_s > 0 and self.stall_timeout_s > 0 and (grace is None or grace >= 0)):
            raise ConfigError(
                "stream limits must be limit_s > 0, stall_timeout_s > 0, limit_grace_s >= 0; "
                f"got {self.limit_s}, {self.stall_timeout_s}, {grace}"
            )

    @property
    def grace_s(self) -> float:
        """The transfer grace after the limit, in seconds."""
        if self.limit_grace_s is not None:
            return self.limit_grace_s
        return max(MIN_GRACE_S, GRACE_SHARE * self.limit_s)


class _Decided(Exception):  # noqa: N818 - control flow, never escapes this module
    """The stream's outcome is decided; carries it out of the reading loop."""

    def __init__(
        self, outcome: Outcome, error: str | None, at: float, cause: str | None = None
    ) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.error = error
        self.at = at
        self.cause = cause  # a failure no retry can fix (see CONFIG_CAUSES)


# Connect failures that no retry fixes: the run is misconfigured (fail-fast acts on them).
_CONFIG_KINDS = frozenset(
    {"dns", "refused", "tls", "client_cert", "proxy", "proxy_auth", "http2", "unreachable"}
)
_CONFIG_STATUSES = frozenset({401, 403, 404})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
BUFFERED_MIN_ITEMS = 3  # a stream of so few items says nothing about buffering
BUFFERED_MIN_TTFI_S = 0.1  # ... nor one whose items came sooner than this


class _Stream:
    """The state of one measurement; ``run()`` returns its single StreamResult."""

    def __init__(
        self,
        request: HttpRequest,
        limits: StreamLimits,
        t0: float,
        secrets: tuple[str, ...],
        timings: ReadTimings | None,
    ) -> None:
        self.request = request
        self.limits = limits
        self.t0 = t0
        self.secrets = secrets
        self.timings = timings  # kernel-stamped reads: where uncertain items are counted
        self.response: Response | None = None
        self.ttfb: float | None = None
        self.ttfi: float | None = None
        self.last_item_t = 0.0
        self.gaps: list[float] = []
        self.items = 0
        self.bytes = 0
        self.item_reads = 0  # reads that completed at least one item
        self.redirects = 0
        self.redirected_to: str | None = None

    def run(
        self, client: HttpClient, reader: ItemReader | None, factory: ReaderFactory
    ) -> _Decided:
        try:
            response = self.response = client.send(self.request)
            if response.status in REDIRECT_STATUSES:
                response = self._follow(client, response)
            self.ttfb = response.t_headers - self.t0
            if not 200 <= response.status < 300:
                return self._http_error(response)
            if reader is None:
                reader = factory(format_from_content_type(response.headers.get("content-type")))
            return self._consume(response, reader)
        except _Decided as decided:
            return decided
        except Exception as exc:  # noqa: BLE001 - every stream must end with an outcome
            return self._classify(exc)

    def _follow(self, client: HttpClient, response: Response) -> Response:
        """Follow redirects (timed from the first request); the final response."""
        request = self.request
        while response.status in REDIRECT_STATUSES and response.headers.get("location"):
            try:
                request = next_request(
                    request, response.status, response.headers["location"], self.redirects
                )
            except RedirectError as exc:
                raise _Decided(
                    Outcome.HTTP_ERROR, str(exc), time.perf_counter(), exc.cause
                ) from None
            response.abort()  # its body is not read, so its connection is not reused
            self.redirects += 1
            response = self.response = client.send(request)
        self.redirected_to = redact_url(request.url)
        return response

    def buffered(self) -> bool:
        """True when every item came in one or two reads, long after the request.

        A streaming body that an intermediary (a buffering proxy, gzip, a CDN) held back shows
        ITL 0 ms and TTFI = the whole duration: not a fast server.
        """
        ttfi = self.ttfi
        if ttfi is None or self.items < BUFFERED_MIN_ITEMS or self.item_reads > 2:
            return False
        spread = self.last_item_t - (self.t0 + ttfi)
        return ttfi >= BUFFERED_MIN_TTFI_S and spread <= 0.1 * ttfi

    def _consume(self, response: Response, reader: ItemReader) -> _Decided:
        limit_deadline = response.t_sent + self.limits.limit_s + self.limits.grace_s
        stall_s = self.limits.stall_timeout_s
        read, feed, gaps = response.read_by, reader.feed, self.gaps  # the per-read hot loop
        timings = self.timings
        stall_deadline = response.t_headers + stall_s
        while True:
            try:
                data, t = read(min(stall_deadline, limit_deadline))
            except ReadTimeout:
                raise self._timed_out(stall_deadline, limit_deadline) from None
            try:
                if not data:
                    self._record(len(reader.finish()), t)
                    return self._ended(t, limit_deadline)
                self.bytes += len(data)
                stall_deadline = t + stall_s
                n = len(feed(data))
            except ReaderError as exc:
                # Items completed by this chunk before the bad byte did arrive: count them.
                self._record(len(exc.items), t)
                raise
            if not n:
                continue
            self.item_reads += 1
            if timings is not None and (n > 1 or reader.partial or not response.tail_exact):
                self._uncertain(response, reader, n)
            if n == 1 and self.ttfi is not None:  # the paced case, inline: one gap
                gaps.append(t - self.last_item_t)
                self.last_item_t = t
                self.items += 1
            else:
                self._record(n, t)

    def _uncertain(self, response: Response, reader: ItemReader, n: int) -> None:
        """Count the items of one read that may have arrived before its newest bytes."""
        exact_tail = response.tail_exact and not reader.partial
        uncertain = n - 1 if exact_tail else n
        if uncertain and self.timings is not None:
            self.timings.record_bound(response.bound(), uncertain)

    def _ended(self, t: float, limit_deadline: float) -> _Decided:
        """The body ended at ``t``: ok, unless the server's limit had passed by then."""
        if t <= limit_deadline:
            return _Decided(Outcome.OK, None, t)
        took = t - (limit_deadline - self.limits.limit_s - self.limits.grace_s)
        return _Decided(
            Outcome.LIMIT_EXCEEDED,
            f"completed {took:.1f} s after the request was sent, past the limit of "
            f"{self.limits.limit_s:g} s",
            t,
        )

    def _record(self, n: int, t: float) -> None:
        if not n:
            return
        if self.ttfi is None:
            self.ttfi = t - self.t0
        else:
            self.gaps.append(t - self.last_item_t)
        if n > 1:
            self.gaps.extend([0.0] * (n - 1))
        self.last_item_t = t
        self.items += n

    def _timed_out(self, stall_deadline: float, limit_deadline: float) -> _Decided:
        now = time.perf_counter()
        if limit_deadline <= stall_deadline:
            limit = self.limits.limit_s
            return _Decided(
                Outcome.LIMIT_EXCEEDED, f"still streaming past the limit of {limit:g} s", now
            )
        stall = self.limits.stall_timeout_s
        return _Decided(Outcome.STALLED, f"no body bytes for {stall:g} s", now)

    def _http_error(self, response: Response) -> _Decided:
        status = f"HTTP {response.status} {response.reason}".strip()
        if response.status in REDIRECT_STATUSES:
            status += " without a Location header: nowhere to follow it to"
        snippet = self._error_body(response)
        cause = f"http_{response.status}" if response.status in _CONFIG_STATUSES else None
        return _Decided(
            Outcome.HTTP_ERROR,
            f"{status}: {snippet}" if snippet else status,
            time.perf_counter(),
            cause,
        )

    def _error_body(self, response: Response) -> str:
        """Up to ~200 characters of an error body, read within a short budget."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.perf_counter() + min(_ERROR_BODY_WAIT_S, self.limits.stall_timeout_s)
        try:
            while size < _ERROR_BODY_CHARS * 4:
                data, _ = response.read(deadline - time.perf_counter())
                if not data:
                    break
                chunks.append(data)
                size += len(data)
        except TransportError:
            pass  # the status is the error; the body is a courtesy
        # Not cut here: scrub() masks echoed keys first, then cuts (a key cut in half before
        # masking would no longer match, and most of it would leak).
        return " ".join(b"".join(chunks).decode("utf-8", "replace").split())

    def _classify(self, exc: Exception) -> _Decided:  # noqa: PLR0911 - one branch per outcome
        now = time.perf_counter()
        if isinstance(exc, ConnectError | ProtocolError) and exc.kind == "http2":
            return _Decided(Outcome.PROTOCOL_ERROR, str(exc), now, "http2")
        if isinstance(exc, ConnectError):
            cause = exc.kind if exc.kind in _CONFIG_KINDS else None
            return _Decided(Outcome.CONNECT_ERROR, f"connect ({exc.kind}): {exc}", now, cause)
        if isinstance(exc, ProtocolError):
            return _Decided(Outcome.PROTOCOL_ERROR, str(exc), now)
        if isinstance(exc, ResponseTimeout):
            return _Decided(Outcome.TIMEOUT, str(exc), now)
        if isinstance(exc, ConnectionLost | TruncatedError):
            sent = self.response.t_sent if self.response is not None else self.t0
            if now - sent >= self.limits.limit_s:
                return _Decided(
                    Outcome.LIMIT_EXCEEDED, f"cut by the server at the limit: {exc}", now
                )
            return _Decided(Outcome.TRUNCATED, str(exc), now)
        if isinstance(exc, MalformedError | ItemTooLargeError | ReaderError):
            return _Decided(Outcome.MALFORMED, str(exc), now)
        # Anything else is a harness or library bug: record it on the stream, do not crash the user.
        outcome = Outcome.CONNECT_ERROR if self.response is None else Outcome.TRUNCATED
        return _Decided(outcome, f"unexpected {type(exc).__name__}: {exc}", now)

    def scrub(self, text: str | None) -> str | None:
        """Mask the request's secrets (the key, credentials) that a server echoed into an error."""
        if text is None:
            return None
        return mask_echoes(text, self.secrets)[: _ERROR_BODY_CHARS + 100]


def _secrets(request: HttpRequest) -> tuple[str, ...]:
    return request_secrets(request.url, request.headers)


def measure_stream(
    client: HttpClient,
    request: HttpRequest,
    *,
    env: str,
    flow: str,
    limits: StreamLimits,
    reader: ItemReader | None = None,
    intended_start: float | None = None,
    make_reader: ReaderFactory | None = None,
) -> StreamResult:
    """Run ``request`` through ``client`` and return its one :class:`StreamResult`.

    Give either ``reader`` (used as is; with no format it sniffs the body) or ``make_reader``,
    called with the format the response's Content-Type names (or None). With neither, an
    ``ItemReader`` is made from the Content-Type. Never raises for anything the stream does;
    GreenletExit, KeyboardInterrupt and SystemExit propagate (and close the connection).
    """
    start = time.perf_counter()
    wall = time.time()  # a timestamp for the record, never used for a duration
    t0 = start if intended_start is None else intended_start
    timings = client.timings if client.clock == CLOCK_KERNEL else None
    # Proxy credentials too: a proxy or server may echo them into an error body.
    secrets = tuple(sorted({*_secrets(request), *client.options.proxies.secrets()}, key=len))[::-1]
    stream = _Stream(request, limits, t0, secrets, timings)
    decided: _Decided | None = None
    try:
        decided = stream.run(client, reader, make_reader or ItemReader)
    finally:
        # Counted however the stream ends (a cancelled one too): the share of uncertain items
        # must have every item read under it.
        client.timings.items += stream.items
        if stream.response is not None:
            # Reuse only after a clean, complete stream; otherwise the socket state is suspect.
            if decided is not None and decided.outcome is Outcome.OK:
                stream.response.close()
            else:
                stream.response.abort()
    response = stream.response
    return StreamResult(
        env=env,
        flow=flow,
        outcome=decided.outcome,
        started_at=wall - (start - t0),
        duration_s=max(0.0, decided.at - t0),
        limit_s=limits.limit_s,
        status=response.status if response is not None else None,
        job_id=response.headers.get("flow-job-id") if response is not None else None,
        ttfb_s=stream.ttfb,
        ttfi_s=stream.ttfi,
        gaps_s=tuple(stream.gaps),
        items=stream.items,
        bytes=stream.bytes,
        error=stream.scrub(decided.error),
        schedule_lag_s=start - t0,
        cause=decided.cause,
        retry_after_s=_retry_after(response),
        redirects=stream.redirects,
        redirected_to=stream.redirected_to if stream.redirects else None,
        resent=response.resent if response is not None else 0,
        buffered=decided.outcome is Outcome.OK and stream.buffered(),
    )


def _retry_after(response: Response | None) -> float | None:
    """The server's Retry-After on a 429/503, in seconds (delay seconds or an HTTP date)."""
    if response is None or response.status not in _RETRY_AFTER_STATUSES:
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
