"""When the event loop last looked at its sockets: the evidence behind a read's error bound.

A read stamped by the kernel is exact for the bytes of its newest segment. Bytes from an older
segment of the same read arrived earlier, but the kernel merges queued segments and keeps only
the newest stamp, so how much earlier must be bounded from what the harness saw: the last
moment the socket was known to be empty. Besides a read that found it empty, every poll of the
event loop that did not report a socket proves it empty at that moment. This watch records,
per loop iteration, the time just before the poll (a prepare watcher, run last) and just after
it (a check watcher, run first), and how long the thread waited for a CPU in between
(``/proc/thread-self/schedstat``, read in both), so a waking reader can tell which poll found its
socket ready and whether that poll had slept until the data came.
"""

from __future__ import annotations

import math
import os
from time import perf_counter
from typing import Any

from gevent import get_hub

_SCHEDSTAT = "/proc/thread-self/schedstat"
_EV_MINPRI, _EV_MAXPRI = -2, 2


class LoopState:
    """One loop iteration, as a woken reader finds it (immutable once published)."""

    __slots__ = ("cpu_wait_s", "polled", "prepared", "prev_prepared")

    def __init__(
        self, prev_prepared: float, prepared: float, polled: float, cpu_wait_s: float
    ) -> None:
        self.prev_prepared = prev_prepared  # just before the previous iteration's poll
        self.prepared = prepared  # just before this iteration's poll
        self.polled = polled  # just after this iteration's poll returned
        self.cpu_wait_s = cpu_wait_s  # CPU wait from just before this poll to just after it


_NO_STATE = LoopState(-math.inf, -math.inf, -math.inf, math.inf)


class LoopWatch:
    """Prepare/check watchers on one hub's loop; ``state`` describes the current iteration."""

    __slots__ = (
        "_check", "_fd", "_prepare", "_prepared", "_prev_prepared", "_run_delay", "state",
    )  # fmt: skip

    def __init__(self, loop: Any) -> None:
        self.state = _NO_STATE
        self._prepared = -math.inf
        self._prev_prepared = -math.inf
        self._fd = _open_schedstat()
        self._run_delay = self._read_run_delay()
        self._prepare = loop.prepare(ref=False, priority=_EV_MINPRI)  # after gevent's callbacks
        self._check = loop.check(ref=False, priority=_EV_MAXPRI)  # before any I/O callback
        self._prepare.start(self._on_prepare)
        self._check.start(self._on_check)

    def close(self) -> None:
        """Stop watching (tests; a process keeps its watch for its lifetime)."""
        self._prepare.stop()
        self._check.stop()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _on_prepare(self) -> None:
        self._prev_prepared = self._prepared
        self._run_delay = self._read_run_delay()
        self._prepared = perf_counter()

    def _on_check(self) -> None:
        polled = perf_counter()
        # Only the wait around the poll: how late the loop woke for the first ready socket.
        # (inf - inf is nan: with no schedstat the CPU wait is unknown, so unbounded.)
        waited = self._read_run_delay() - self._run_delay if self._fd is not None else math.inf
        self.state = LoopState(self._prev_prepared, self._prepared, polled, waited)

    def _read_run_delay(self) -> float:
        """Seconds this thread has waited for a CPU (inf when the kernel does not say)."""
        if self._fd is None:
            return math.inf
        try:
            return int(os.pread(self._fd, 64, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return math.inf


def _open_schedstat() -> int | None:
    try:
        return os.open(_SCHEDSTAT, os.O_RDONLY)
    except OSError:
        return None


_WATCHES: dict[int, LoopWatch] = {}


def loop_watch() -> LoopWatch:
    """The watch of the calling thread's hub (created on first use)."""
    hub = get_hub()
    key = id(hub)
    watch = _WATCHES.get(key)
    if watch is None:
        watch = _WATCHES[key] = LoopWatch(hub.loop)
    return watch
