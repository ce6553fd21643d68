"""One scheduler per server that sends the ordinary items of every stream.

Waking one greenlet per item (a timer, two switches, Python frames) costs more than sending
the item. The pacer keeps a heap of streams ordered by their next item's planned time and, on
one timer, sends every due item itself with a non-blocking ``send``. It hands a stream back to
its greenlet only for what needs one: the end of its run of ordinary items (a fault's index or
the last item), a full socket buffer, the execution limit or a vanished client.
"""

from __future__ import annotations

import _socket
import heapq
import itertools
import math
from collections.abc import Iterator
from time import perf_counter
from typing import Any

from gevent.hub import Waiter, get_hub

from harness.simulator.send_log import SchedStats
from harness.simulator.send_plan import chunk, frame, item_body

# The event loop wakes with millisecond granularity (epoll), so a timer is up to 1 ms late.
# Waking half of that early and sending what is due within EARLY_S centres the error on the
# plan (|actual - planned| <= ~0.5 ms from granularity) instead of making every item late.
EARLY_S = 0.5e-3
MAX_BATCH = 500


class PacedRun:
    """Items ``index`` .. ``stop - 1`` of one stream, for the pacer to send.

    ``due``/``size`` describe item ``index`` (already drawn from ``schedule``); ``base`` is the
    absolute time offsets count from. After the run, ``reason`` says why it came back
    (``boundary``, ``blocked`` with ``pending`` bytes, ``limit`` or ``gone``).
    """

    __slots__ = (
        "alive",
        "base",
        "bytes",
        "deadline",
        "dense",
        "due",
        "fmt",
        "index",
        "items",
        "name",
        "pending",
        "raw",
        "reason",
        "schedule",
        "sends",
        "size",
        "stop",
        "waiter",
    )  # fmt: skip

    def __init__(
        self,
        raw: _socket.socket,
        schedule: Iterator[tuple[float, int]],
        span: tuple[int, int],
        timing: tuple[float, float, float],
        body: tuple[str, bytes, int],
    ) -> None:
        self.raw = raw
        self.schedule = schedule
        self.index, self.stop = span
        self.base, self.due, self.deadline = timing
        self.fmt, self.name, self.size = body
        self.items = 0
        self.bytes = 0
        self.pending = b""
        self.reason = ""
        self.alive = True
        self.waiter: Any = None
        self.sends: list[float] = []  # perf_counter() just before each item's send call
        self.dense = False  # rows instead of padding (see item_body)


class Pacer:
    """The per-hub scheduler; create it in the thread whose hub will run the server."""

    def __init__(self, stats: SchedStats) -> None:
        self.stats = stats
        self._heap: list[tuple[float, int, PacedRun]] = []
        self._seq = itertools.count()
        self._loop = get_hub().loop
        self._timer: Any = None
        self._armed = math.inf
        self._firing = False

    def run(self, job: PacedRun) -> str:
        """Send the job's items on schedule; return why it came back (see ``PacedRun``)."""
        job.waiter = Waiter()
        heapq.heappush(self._heap, (job.due, next(self._seq), job))
        if job.due < self._armed and not self._firing:
            self._arm(job.due)
        try:
            reason: str = job.waiter.get()
        finally:
            job.alive = False  # also when the greenlet is killed while waiting
        return reason

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()
        # The loop's cached clock is stale after a batch of sends; refresh it, or the timer
        # fires early, finds nothing due and re-arms (costing a whole epoll millisecond).
        self._loop.update_now()
        self._timer = self._loop.timer(max(0.0, due - EARLY_S - perf_counter()))
        self._timer.start(self._fire)
        self._armed = due

    def _fire(self) -> None:
        self._armed = math.inf
        self._firing = True
        heap = self._heap
        # Only what is due now, and a bounded batch: when the simulator falls behind, new
        # connections, requests and reads must still get their turn in the event loop.
        horizon = perf_counter() + EARLY_S
        try:
            for _ in range(MAX_BATCH):
                if not heap or heap[0][0] > horizon:
                    break
                job = heapq.heappop(heap)[2]
                if job.alive:
                    self._send(job)
        finally:
            self._firing = False
        if heap:
            self._arm(heap[0][0])

    def _hand_back(self, job: PacedRun, reason: str) -> None:
        job.reason = reason
        job.waiter.switch(reason)  # runs the stream's greenlet until it waits again

    def _send(self, job: PacedRun) -> None:
        if job.due >= job.deadline:
            self._hand_back(job, "limit")
            return
        data = frame(job.fmt, job.index, item_body(job.name, job.index, job.size, dense=job.dense))
        wire = chunk(data)
        now = perf_counter()
        error = now - job.due
        self.stats.record_error(error if error > 0 else -error)  # early counts as much as late
        job.sends.append(now)
        try:
            sent = job.raw.send(wire)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._hand_back(job, "gone")
            return
        counters = self.stats.counters
        counters.items_sent += 1
        counters.bytes_sent += len(data)
        job.items += 1
        job.bytes += len(data)
        job.index += 1
        if sent < len(wire):
            job.pending = wire[sent:]
            self._hand_back(job, "blocked")
        elif job.index >= job.stop:
            self._hand_back(job, "boundary")
        else:
            offset, job.size = next(job.schedule)
            job.due = job.base + offset
            heapq.heappush(self._heap, (job.due, next(self._seq), job))
