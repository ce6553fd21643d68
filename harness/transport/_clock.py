"""Kernel receive timestamps: turning them on, reading them, and converting them to perf_counter.

With ``SO_TIMESTAMPNS`` set on a TCP socket, every ``recvmsg()`` carries the time the kernel
received the newest segment it returned (socket(7)). The stamp is ``CLOCK_REALTIME``;
``time.perf_counter()`` is ``CLOCK_MONOTONIC`` on Linux. Both are slewed alike by NTP, so their
difference changes only when the wall clock is *stepped*. :class:`KernelClock` keeps that
difference from paired clock reads, re-pairs it every second, and re-pairs at once when a
converted stamp falls outside the window it must lie in (after the socket was last seen empty,
before the read returned): a wall-clock step never turns into a wrong gap.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

# Linux (asm-generic, used by x86 and ARM): SO_TIMESTAMPNS_OLD, the 64-bit timespec on 64-bit
# builds. Python's socket module does not export it.
SO_TIMESTAMPNS = 35
ANCILLARY_BYTES = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 0
_TIMESPEC64 = struct.Struct("@qq")
_TIMESPEC32 = struct.Struct("@ii")

REPAIR_EVERY_NS = 1_000_000_000  # the offset only moves on wall-clock steps: once a second
TOLERANCE_NS = 200_000  # pairing precision plus the clocks' read costs, generously
_PAIR_TRIES = 5

CLOCK_KERNEL = "kernel"
CLOCK_USER = "user"
TIMESTAMP_MODES = ("auto", CLOCK_KERNEL, CLOCK_USER)


def enable_kernel_stamps(sock: socket.socket) -> str | None:
    """Ask for receive timestamps on ``sock``; return why not (None when they are on)."""
    if not sys.platform.startswith("linux") or not ANCILLARY_BYTES:
        return f"kernel receive timestamps need Linux (this is {sys.platform})"
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError as exc:
        return f"the kernel refused SO_TIMESTAMPNS ({exc.strerror or exc})"
    return None


_REFUSAL: list[str | None] = []


def kernel_stamps_refusal() -> str | None:
    """Why this process cannot have kernel receive stamps (None: it can). Asked once."""
    if not _REFUSAL:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            _REFUSAL.append(enable_kernel_stamps(probe))
        finally:
            probe.close()
    return _REFUSAL[0]


def stamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The receive time (ns, CLOCK_REALTIME) carried by a ``recvmsg`` result, if any."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            if len(data) >= _TIMESPEC64.size:
                sec, nsec = _TIMESPEC64.unpack_from(data)
            else:
                sec, nsec = _TIMESPEC32.unpack_from(data)
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


def _pair(realtime_ns: Callable[[], int]) -> tuple[int, int]:
    """(realtime - monotonic offset in ns, monotonic ns when paired): the tightest of a few."""
    best = (1 << 62, 0, 0)
    for _ in range(_PAIR_TRIES):
        before = time.perf_counter_ns()
        real = realtime_ns()
        after = time.perf_counter_ns()
        if after - before < best[0]:
            best = (after - before, real - (before + after) // 2, after)
    return best[1], best[2]


@dataclass(slots=True)
class ClockAnomalies:
    """Stamps that did not fit their window even after re-pairing (clamped into it)."""

    repaired: int = 0  # re-pairings forced by a stamp outside its window (wall-clock steps)
    clamped: int = 0  # stamps still outside after re-pairing: the window's edge was used


class KernelClock:
    """Converts kernel receive stamps (CLOCK_REALTIME ns) to ``perf_counter()`` seconds."""

    __slots__ = ("_offset_ns", "_paired_ns", "_realtime_ns", "anomalies")

    def __init__(self, realtime_ns: Callable[[], int] = time.time_ns) -> None:
        self._realtime_ns = realtime_ns
        self._offset_ns, self._paired_ns = _pair(realtime_ns)
        self.anomalies = ClockAnomalies()

    def to_perf(self, stamp: int, lo: float, hi: float) -> float:
        """``stamp`` in perf_counter seconds, inside ``[lo, hi]`` (seen empty .. read returned).

        A stamp outside the window by more than the pairing tolerance means the wall clock was
        stepped since the last pairing: pair again and convert again; a stamp still outside is
        clamped to the window's edge and counted.
        """
        t = (stamp - self._offset_ns) * 1e-9
        if int(hi * 1e9) - self._paired_ns > REPAIR_EVERY_NS:
            self._offset_ns, self._paired_ns = _pair(self._realtime_ns)
            t = (stamp - self._offset_ns) * 1e-9
        if lo - TOLERANCE_NS * 1e-9 <= t <= hi + TOLERANCE_NS * 1e-9:
            return min(max(t, lo), hi)
        self.anomalies.repaired += 1
        self._offset_ns, self._paired_ns = _pair(self._realtime_ns)
        t = (stamp - self._offset_ns) * 1e-9
        if not lo - TOLERANCE_NS * 1e-9 <= t <= hi + TOLERANCE_NS * 1e-9:
            self.anomalies.clamped += 1
        return min(max(t, lo), hi)
