"""Sending one planned stream on a socket: items at their planned times, faults, the limit cut.

Each item is one HTTP chunk written with one ``sendall`` (a flush per item, like ASP.NET Core
writing an ``IAsyncEnumerable``). Sends are scheduled against absolute planned times, so the
scheduling error is measurable and does not accumulate.
"""

from __future__ import annotations

import _socket
import math
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter

import gevent

from harness.simulator.faults import FaultKind
from harness.simulator.pacer import PacedRun, Pacer
from harness.simulator.send_log import SchedStats
from harness.simulator.send_plan import (
    LAST_CHUNK,
    StreamPlan,
    chunk,
    closing,
    flow_json,
    frame,
    item_body,
)

# Faults on one item (sent by the stream's greenlet) and faults a paced run must stop at.
_ITEM_FAULTS = frozenset({FaultKind.MALFORMED, FaultKind.OVERSIZED})
_STOP_FAULTS = _ITEM_FAULTS | {FaultKind.RESET, FaultKind.TRUNCATE, FaultKind.STALL}


@dataclass(slots=True)
class StreamEnd:
    """How a stream ended: outcome word, items and body bytes sent, connection reusable.

    ``sends`` holds, per item sent, the ``perf_counter()`` just before its send call: what the
    server really did (``CLOCK_MONOTONIC``, so a client on the same machine can compare).
    """

    outcome: str
    items: int = 0
    bytes: int = 0
    reusable: bool = False
    sends: list[float] = field(default_factory=list)


def reset_connection(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def _sleep_until(due: float) -> None:
    delay = due - perf_counter()
    if delay > 0:
        gevent.sleep(delay)


class Streamer:
    """Sends one plan on one socket.

    ``started`` is when execution began (after queueing) and ``deadline`` the absolute
    perf_counter time of the execution limit (request start + limit).
    """

    def __init__(
        self,
        sock: socket.socket,
        plan: StreamPlan,
        started: float,
        deadline: float,
        stats: SchedStats,
        *,
        pacer: Pacer | None = None,
    ) -> None:
        self.sock = sock
        self.pacer = pacer
        self.name = flow_json(plan.flow.name)
        self.plan = plan
        self.started = started
        self.deadline = deadline
        self.stats = stats
        self.end = StreamEnd("ok")
        fault = plan.fault
        self.trickle_s = fault.seconds if fault and fault.kind is FaultKind.TRICKLE else None
        self.enforce_limit = not (fault and fault.kind is FaultKind.OVER_LIMIT)
        raw = getattr(sock, "_sock", None)
        # TLS sockets must go through their own send (encryption): no raw fast path for them.
        plain = isinstance(raw, _socket.socket) and not hasattr(sock, "cipher")
        self._raw: _socket.socket | None = raw if plain else None

    def _sendall(self, data: bytes) -> None:
        # Fast path: one non-blocking send on gevent's underlying socket saves ~5 us of
        # wrapper calls per item; gevent's sendall takes over when the buffer is full.
        raw = self._raw
        if raw is not None:
            try:
                sent = raw.send(data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self.sock.sendall(data)

    def _send(self, data: bytes) -> None:
        if self.trickle_s is None:
            self._sendall(chunk(data))
        else:
            for i in range(len(data)):
                if i:
                    gevent.sleep(self.trickle_s)
                self.sock.sendall(chunk(data[i : i + 1]))
        self.end.bytes += len(data)
        self.stats.counters.bytes_sent += len(data)

    def _cut(self) -> StreamEnd:
        _sleep_until(self.deadline)
        self.sock.close()
        self.end.outcome = "cut_at_limit"
        return self.end

    def run(self) -> StreamEnd:
        """Send the stream; a vanished client gives outcome ``client_gone``."""
        try:
            return self._run()
        except OSError:
            # Broken pipe, reset by peer or a send timeout: the client stopped listening.
            self.end.outcome = "client_gone"
            self.end.reusable = False
            return self.end

    def _run(self) -> StreamEnd:
        plan, fault = self.plan, self.plan.fault
        kind = fault.kind if fault else None
        at = fault.index if fault else -1
        shift = 0.0
        schedule = plan.schedule()
        i = 0
        while i < plan.count:
            if i == at and kind is FaultKind.RESET:
                reset_connection(self.sock)
                self.end.outcome = "reset"
                return self.end
            if i == at and kind is FaultKind.TRUNCATE:
                return self._truncate()
            if i == at and kind is FaultKind.STALL and fault:
                shift = fault.seconds
            offset, size = next(schedule)
            special = (i == at and kind in _ITEM_FAULTS) or self.trickle_s is not None
            if self.pacer is not None and self._raw is not None and not special:
                stop = at if kind in _STOP_FAULTS and at > i else plan.count
                done = self._paced(i, stop, (offset, size), schedule, shift)
                if isinstance(done, StreamEnd):
                    return done
                i = done
                continue
            due = self.started + offset + shift
            if self.enforce_limit and due >= self.deadline:
                return self._cut()
            self._item(i, due, size)
            i += 1
        return self._finish(plan.count)

    def _item(self, i: int, due: float, size: int) -> None:
        """Send item ``i`` from this greenlet (faulted items, trickle, no pacer)."""
        fault = self.plan.fault
        kind = fault.kind if fault else None
        delay = due - perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        if fault and kind is FaultKind.OVERSIZED and i == fault.index:
            size = fault.size
        malformed = fault is not None and kind is FaultKind.MALFORMED and i == fault.index
        body = item_body(self.name, i, size, malformed=malformed, dense=self.plan.overrides.dense)
        wire = frame(self.plan.flow.format, i, body)
        now = perf_counter()
        if self.trickle_s is None:
            self.stats.record_error(abs(now - due))
        self.end.sends.append(now)
        self._send(wire)
        self.end.items += 1
        self.stats.counters.items_sent += 1

    def _paced(
        self,
        i: int,
        stop: int,
        item: tuple[float, int],
        schedule: Iterator[tuple[float, int]],
        shift: float,
    ) -> int | StreamEnd:
        """Let the pacer send items ``i`` .. ``stop - 1``; the next index, or how it ended."""
        if self.pacer is None or self._raw is None:
            raise RuntimeError("paced sending needs a pacer and a raw socket")
        base = self.started + shift
        deadline = self.deadline if self.enforce_limit else math.inf
        job = PacedRun(
            self._raw,
            schedule,
            (i, stop),
            (base, base + item[0], deadline),
            (self.plan.flow.format, self.name, item[1]),
        )
        job.sends = self.end.sends
        job.dense = self.plan.overrides.dense
        reason = self.pacer.run(job)
        self.end.items += job.items
        self.end.bytes += job.bytes
        if reason == "limit":
            return self._cut()
        if reason == "gone":
            raise BrokenPipeError("the client closed the connection")
        if reason == "blocked":
            self.sock.sendall(job.pending)
        if job.index < stop:
            # Handed back mid-run (blocked): the pacer already drew item job.index.
            return self._paced(job.index, stop, (job.due - base, job.size), schedule, shift)
        return job.index

    def _truncate(self) -> StreamEnd:
        self.sock.sendall(LAST_CHUNK)
        self.end.outcome = "truncated"
        self.end.reusable = True  # the HTTP framing is complete; only the JSON is cut
        return self.end

    def _finish(self, count: int) -> StreamEnd:
        plan, fault, end = self.plan, self.plan.fault, self.end
        kind = fault.kind if fault else None
        if fault and fault.index >= count and kind is FaultKind.RESET:
            reset_connection(self.sock)
            end.outcome = "reset"
            return end
        if fault and fault.index >= count and kind is FaultKind.TRUNCATE:
            return self._truncate()
        if kind is FaultKind.OVER_LIMIT and fault:
            _sleep_until(self.deadline + fault.seconds)
        elif kind is FaultKind.STALL and fault and fault.index >= count:
            _sleep_until(perf_counter() + fault.seconds)
        if self.enforce_limit and perf_counter() >= self.deadline:
            return self._cut()
        tail = closing(plan.flow.format, count)
        if tail and self.trickle_s is not None:
            self._send(tail)
            tail = b""
        self.sock.sendall((chunk(tail) if tail else b"") + LAST_CHUNK)
        end.bytes += len(tail)
        end.outcome = fault.outcome if fault else "ok"
        end.reusable = True
        return end
