"""Measure one stream: send, read every body byte as it arrives, and decide exactly one Outcome.

Times are ``perf_counter()`` seconds from ``t0``: the request start, or in arrival-rate mode the
*intended* start (coordinated-omission correction; ``schedule_lag_s`` says how late the real start
was). An item's arrival time is the receipt time of the chunk that completed it, so items completed
by one chunk are 0 s apart: that is what the bytes say.
"""

from __future__ import annotations

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
from harness.result import Outcome, StreamResult
from harness.secrets import mask_echoes, request_secrets
from harness.transport import (
    ConnectError,
    ConnectionLost,
    HttpClient,
    HttpRequest,
    ProtocolError,
    ReadTimeout,
    Response,
    ResponseTimeout,
    TransportError,
)

ReaderFactory = Callable[[ItemFormat | None], ItemReader]

_ERROR_BODY_CHARS = 200
_ERROR_BODY_WAIT_S = 2.0  # an error body comes at once; do not let a slow one hold the stream


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How long a stream may take before the harness calls it stalled or over the limit."""

    limit_s: float = 300.0
    stall_timeout_s: float = 60.0
    limit_grace_s: float = 5.0

    def __post_init__(self) -> None:
        if not (self.limit_s > 0 and self.stall_timeout_s > 0 and self.limit_grace_s >= 0):
            raise ConfigError(
                "stream limits must be limit_s > 0, stall_timeout_s > 0, limit_grace_s >= 0; "
                f"got {self.limit_s}, {self.stall_timeout_s}, {self.limit_grace_s}"
            )


class _Decided(Exception):  # noqa: N818 - control flow, never escapes this module
    """The stream's outcome is decided; carries it out of the reading loop."""

    def __init__(self, outcome: Outcome, error: str | None, at: float) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.error = error
        self.at = at


class _Stream:
    """The state of one measurement; ``run()`` returns its single StreamResult."""

    def __init__(
        self, request: HttpRequest, limits: StreamLimits, t0: float, secrets: tuple[str, ...]
    ) -> None:
        self.request = request
        self.limits = limits
        self.t0 = t0
        self.secrets = secrets
        self.response: Response | None = None
        self.ttfb: float | None = None
        self.ttfi: float | None = None
        self.last_item_t = 0.0
        self.gaps: list[float] = []
        self.items = 0
        self.bytes = 0

    def run(
        self, client: HttpClient, reader: ItemReader | None, factory: ReaderFactory
    ) -> _Decided:
        try:
            response = self.response = client.send(self.request)
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

    def _consume(self, response: Response, reader: ItemReader) -> _Decided:
        limit_deadline = self.t0 + self.limits.limit_s + self.limits.limit_grace_s
        stall_s = self.limits.stall_timeout_s
        read, feed, gaps = response.read_by, reader.feed, self.gaps  # the per-read hot loop
        stall_deadline = response.t_headers + stall_s
        while True:
            try:
                data, t = read(min(stall_deadline, limit_deadline))
            except ReadTimeout:
                raise self._timed_out(stall_deadline, limit_deadline) from None
            try:
                if not data:
                    self._record(len(reader.finish()), t)
                    return _Decided(Outcome.OK, None, t)
                self.bytes += len(data)
                stall_deadline = t + stall_s
                n = len(feed(data))
            except ReaderError as exc:
                # Items completed by this chunk before the bad byte did arrive: count them.
                self._record(len(exc.items), t)
                raise
            if n == 1 and self.ttfi is not None:  # the paced case, inline: one gap
                gaps.append(t - self.last_item_t)
                self.last_item_t = t
                self.items += 1
            else:
                self._record(n, t)

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
            over = self.limits.limit_s + self.limits.limit_grace_s
            return _Decided(Outcome.LIMIT_EXCEEDED, f"still streaming after {over:g} s", now)
        stall = self.limits.stall_timeout_s
        return _Decided(Outcome.STALLED, f"no body bytes for {stall:g} s", now)

    def _http_error(self, response: Response) -> _Decided:
        status = f"HTTP {response.status} {response.reason}".strip()
        snippet = self._error_body(response)
        return _Decided(
            Outcome.HTTP_ERROR, f"{status}: {snippet}" if snippet else status, time.perf_counter()
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

    def _classify(self, exc: Exception) -> _Decided:
        now = time.perf_counter()
        if isinstance(exc, ConnectError):
            return _Decided(Outcome.CONNECT_ERROR, f"connect ({exc.kind}): {exc}", now)
        if isinstance(exc, ResponseTimeout):
            return _Decided(Outcome.TIMEOUT, str(exc), now)
        if isinstance(exc, ConnectionLost | TruncatedError):
            if now - self.t0 >= self.limits.limit_s:
                return _Decided(
                    Outcome.LIMIT_EXCEEDED, f"cut by the server at the limit: {exc}", now
                )
            return _Decided(Outcome.TRUNCATED, str(exc), now)
        if isinstance(exc, MalformedError | ItemTooLargeError | ProtocolError | ReaderError):
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
    stream = _Stream(request, limits, t0, _secrets(request))
    decided: _Decided | None = None
    try:
        decided = stream.run(client, reader, make_reader or ItemReader)
    finally:
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
    )
