"""One connection's bytes: a raw non-blocking socket read with ``recvmsg``, stamped, maybe TLS.

Every read knows when its bytes arrived (the kernel's stamp of its newest segment, or the
user-space receipt time where stamps are off) and the last moment the socket was known to be
empty, which bounds how much earlier its older bytes may have arrived (:meth:`Wire.bound`).

Reads wait on the event loop first when the previous read emptied the socket (one ``recvmsg``
per paced item instead of a failing one and a real one), and a reader that keeps finding data
yields to the loop after :data:`BURST_S` or :data:`BURST_BYTES`, so one busy stream never keeps
the others' bytes waiting. TLS runs over ``ssl.MemoryBIO`` on the same raw socket, so
decrypted bytes take the stamp of the raw read that completed their TLS record.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
from time import perf_counter
from typing import Any

from gevent import get_hub

from harness.transport._clock import ANCILLARY_BYTES, KernelClock, stamp_ns
from harness.transport._errors import NotSentError
from harness.transport._loopwatch import LoopState, LoopWatch
from harness.transport._timing import ReadTimings

BURST_S = 2e-3  # a reader that found data for this long without waiting yields to the loop
BURST_BYTES = 256 * 1024  # ... or after this many bytes
SLEPT_S = 50e-6  # a poll longer than this, beyond CPU wait, slept: no socket was ready before
WAKE_PATH_S = 50e-6  # from the kernel waking the poll to the loop's check watcher, at most
_READ, _WRITE = 1, 2


class Wire:
    """A connected TCP socket: cooperative send, stamped receive. Not shared between greenlets."""

    __slots__ = (
        "_anc", "_burst_bytes", "_burst_from", "_clock", "_drained", "_hub", "_kernel_times",
        "_raw", "_reader", "_timings", "_watch", "_writer", "aligned", "empty_at", "label", "lag",
        "read_lo", "read_woke", "recv_bytes", "t", "wait_start", "woke",
    )  # fmt: skip

    def __init__(
        self,
        raw: socket.socket,
        label: str,
        *,
        recv_bytes: int,
        timings: ReadTimings,
        clock: KernelClock | None,
        watch: LoopWatch | None,
        kernel_times: bool,
    ) -> None:
        raw.setblocking(False)
        self._raw = raw
        self.label = label
        self.recv_bytes = recv_bytes
        self._timings = timings
        self._clock = clock  # None: the socket has no kernel stamps
        self._kernel_times = kernel_times and clock is not None  # else stamps only give lags
        self._watch = watch
        self._anc = ANCILLARY_BYTES if clock is not None else 0
        self._hub = get_hub()
        loop = self._hub.loop
        self._reader = loop.io(raw.fileno(), _READ)
        self._writer = loop.io(raw.fileno(), _WRITE)
        self._drained = False
        self._burst_from = perf_counter()
        self._burst_bytes = 0
        self.empty_at = perf_counter()  # nothing was sent yet: nothing can be queued
        self.read_lo = self.empty_at
        self.wait_start = 0.0
        self.woke: LoopState | None = None
        self.read_woke: LoopState | None = None
        self.t = 0.0  # arrival time of the last read's newest bytes (perf_counter seconds)
        self.lag = 0.0  # the last read's delivery lag (0 when it had no kernel stamp)
        self.aligned = True  # TLS: the last raw read ended on a record boundary

    # --- sending ---
    def send_all(self, data: bytes) -> None:
        """Send every byte (cooperatively); raises OSError when the connection is gone.

        Nothing of the reply can arrive before the request's last byte left: from the start of
        the last send call on, the socket counts as empty until bytes come. (Not from its end:
        the send may wake the server, which may answer before this process runs again.)
        """
        self.empty_at = self._send_raw(data)

    def _send_raw(self, data: bytes | memoryview) -> float:
        """Send every byte; return the time just before the last send call.

        Raises NotSentError when the connection refused the very first byte (the peer cannot
        have read anything of it), OSError when it failed later.
        """
        view = memoryview(data)
        before = perf_counter()
        accepted = False
        while view:
            before = perf_counter()
            try:
                sent = self._raw.send(view)
            except BlockingIOError:
                self._hub.wait(self._writer)
                continue
            except OSError as exc:
                if accepted:
                    raise
                raise NotSentError(str(exc)) from exc
            accepted = accepted or sent > 0
            view = view[sent:]
        return before

    # --- receiving ---
    def receive(self) -> bytes:
        """The next bytes (``b""`` at EOF), with ``t``, ``lag`` and the bound's evidence set.

        Raises OSError (reset, TLS failure as ssl.SSLError). Blocks the greenlet cooperatively;
        a caller bounds the wait by throwing into it (see the response's watchdog).
        """
        return self._receive_raw()

    def _receive_raw(self) -> bytes:
        if self._drained or self._burst_bytes > BURST_BYTES:
            self._wait_readable()
        raw, size, anc = self._raw, self.recv_bytes, self._anc
        while True:
            before = perf_counter()
            if self.woke is None and before - self._burst_from > BURST_S:
                self._wait_readable()  # found data for too long: let the others read
                continue
            try:
                data, ancdata, _flags, _addr = raw.recvmsg(size, anc)
            except BlockingIOError:
                self.empty_at = before
                self._wait_readable()
                continue
            except InterruptedError:
                continue
            break
        received = perf_counter()
        self.read_lo, self.read_woke = self.empty_at, self.woke
        if self.woke is not None:
            self.woke = None
            self._burst_from, self._burst_bytes = before, 0
        self._burst_bytes += len(data)
        self._drained = len(data) < size
        if self._drained:
            self.empty_at = before
        self._stamp(data, ancdata, received)
        return data

    def _stamp(self, data: bytes, ancdata: list[Any], received: float) -> None:
        clock = self._clock
        stamp = stamp_ns(ancdata) if ancdata else None
        if stamp is None or clock is None:
            self.t, self.lag = received, 0.0
            if data and clock is not None:
                self._timings.unstamped_reads += 1
            return
        repaired = clock.anomalies.repaired
        t = clock.to_perf(stamp, self.read_lo, received)
        if clock.anomalies.repaired != repaired:
            self._timings.clock_steps += 1
        self.lag = received - t
        self._timings.lag.record(self.lag)
        self.t = t if self._kernel_times else received

    def _wait_readable(self) -> None:
        if self._raw.fileno() < 0:  # closed: a watcher on a dead fd would abort libev
            raise OSError(errno.EBADF, "the connection is closed")
        self.wait_start = perf_counter()
        self._hub.wait(self._reader)
        watch = self._watch
        self.woke = watch.state if watch is not None else _NOWHERE

    def bound(self) -> float:
        """How much earlier than ``t`` the oldest bytes of the last read may have arrived."""
        lo = self.read_lo
        woke = self.read_woke
        if woke is not None and woke is not _NOWHERE:
            start = self.wait_start
            if start <= woke.prev_prepared:
                lo = max(lo, woke.prev_prepared)  # that poll did not report this socket
            asleep = woke.polled - woke.prepared - woke.cpu_wait_s
            if start <= woke.prepared and asleep > SLEPT_S:
                # The poll slept: no socket was ready when it began, and it woke at the first.
                lo = max(lo, woke.polled - woke.cpu_wait_s - WAKE_PATH_S)
        return max(self.t - lo, 0.0)

    def readable_now(self) -> bool:
        """True when the socket has bytes or EOF waiting (an idle keep-alive one must not)."""
        try:
            self._raw.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True  # reset: as unusable as EOF
        return True

    def close(self) -> None:
        """Close the socket and its watchers; a dead one is fine."""
        for watcher in (self._reader, self._writer):
            watcher.stop()
            with contextlib.suppress(Exception):  # closing a watcher of a dead fd: nothing left
                watcher.close()
        with contextlib.suppress(OSError):
            self._raw.close()

    @property
    def alpn(self) -> str | None:
        """The protocol ALPN agreed on (TLS only)."""
        return None


# A wait that ended without a loop watch: the read followed a wait, but nothing more is known.
_NOWHERE = LoopState(float("-inf"), float("-inf"), float("-inf"), float("inf"))


class TlsWire(Wire):
    """A :class:`Wire` carrying TLS: ``ssl.SSLObject`` over memory BIOs on the raw socket."""

    __slots__ = ("_backlog", "_in", "_out", "_tls")

    def __init__(
        self,
        raw: socket.socket,
        label: str,
        *,
        recv_bytes: int,
        timings: ReadTimings,
        clock: KernelClock | None,
        watch: LoopWatch | None,
        kernel_times: bool,
        context: ssl.SSLContext,
        server_hostname: str,
    ) -> None:
        super().__init__(
            raw,
            label,
            recv_bytes=recv_bytes,
            timings=timings,
            clock=clock,
            watch=watch,
            kernel_times=kernel_times,
        )
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._backlog = bytearray()  # encrypted bytes not yet sent (a flush may be interrupted)
        self._tls = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)

    def handshake(self) -> None:
        """Run the TLS handshake (raises ssl.SSLError / OSError)."""
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                data = self._receive_raw()
                if not data:
                    raise ssl.SSLEOFError("EOF occurred during the TLS handshake") from None
                self._in.write(data)
                continue
            self._flush()
            return

    def send_all(self, data: bytes) -> None:
        """Encrypt and send every byte (the reply cannot predate the last send call)."""
        self._tls.write(data)
        sent_at = self._flush()
        if sent_at is not None:
            self.empty_at = sent_at

    def receive(self) -> bytes:
        """The next decrypted bytes (``b""`` at the end).

        They carry the stamp of the raw read that completed their TLS record(s); ``aligned``
        says whether that read ended on a record boundary.
        """
        while True:
            data = self._receive_raw()
            if data:
                self._in.write(data)
            else:
                self._in.write_eof()
            plain = self._drain_plaintext()
            if plain is not None:
                self.aligned = self._in.pending == 0
                return plain
            self._flush()  # a TLS 1.3 key update or ticket may want an answer

    def _drain_plaintext(self) -> bytes | None:
        """Decrypted bytes now available; ``b""`` at the end; None when a record is unfinished."""
        pieces: list[bytes] = []
        while True:
            try:
                piece = self._tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b"".join(pieces)  # clean close_notify, or the peer just closed
            if not piece:
                return b"".join(pieces)
            pieces.append(piece)
        if pieces:
            return b"".join(pieces)
        if self._in.eof:
            return b""
        return None

    def _flush(self) -> float | None:
        """Send what TLS has to send (first what an interrupted flush left).

        Returns the start time of the last send call (None when there was nothing to send).
        """
        out = self._out.read()
        if out:
            self._backlog += out
        sent_at = None
        first = True
        while self._backlog:
            sent_at = perf_counter()
            try:
                sent = self._raw.send(self._backlog)
            except BlockingIOError:
                self._hub.wait(self._writer)
                continue
            except OSError as exc:
                if first:
                    raise NotSentError(str(exc)) from exc
                raise
            first = False
            del self._backlog[:sent]
        return sent_at

    @property
    def alpn(self) -> str | None:
        """The protocol ALPN agreed on."""
        return self._tls.selected_alpn_protocol()
