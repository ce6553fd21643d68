"""The simulator's capacity model: per env, execution slots and a bounded FIFO queue.

A request that finds every slot busy waits in the queue (its time to first item grows); one
that finds the queue full is rejected (429 or 503 with ``Retry-After``). This gives a stepped
load against the simulator a visible knee, like a real service.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gevent.event import Event


@dataclass(slots=True)
class GateStats:
    """Counters of one env's gate (a snapshot is a copy)."""

    in_use: int = 0
    queued: int = 0
    admitted: int = 0
    rejected: int = 0
    timed_out: int = 0
    max_queued: int = 0


class Gate:
    """Slots and a FIFO queue for one env. Use ``enter`` then, if it returned True, ``leave``."""

    def __init__(self, slots: int, queue: int) -> None:
        if slots < 1 or queue < 0:
            raise ValueError(f"need slots >= 1 and queue >= 0, got {slots}, {queue}")
        self.slots = slots
        self.queue = queue
        self._waiters: deque[Event] = deque()
        self.stats = GateStats()

    def enter(self, timeout: float | None) -> bool | None:
        """Take a slot, waiting up to ``timeout`` s in the queue.

        Returns True with a slot held, False when the queue is full (reject now), None when the
        wait timed out (no slot held).
        """
        st = self.stats
        if st.in_use < self.slots and not self._waiters:
            st.in_use += 1
            st.admitted += 1
            return True
        if len(self._waiters) >= self.queue:
            st.rejected += 1
            return False
        ticket = Event()
        self._waiters.append(ticket)
        st.queued = len(self._waiters)
        st.max_queued = max(st.max_queued, st.queued)
        try:
            handed = ticket.wait(timeout)
        finally:
            if not ticket.is_set():
                # Timed out or killed while waiting: leave the queue without taking a slot.
                self._waiters.remove(ticket)
                st.queued = len(self._waiters)
        if not handed:
            st.timed_out += 1
            return None
        st.admitted += 1
        return True

    def leave(self) -> None:
        """Give the slot back: to the first waiter if any (FIFO), else to the pool."""
        if self._waiters:
            # The slot passes straight to the waiter, so in_use does not change.
            self._waiters.popleft().set()
            self.stats.queued = len(self._waiters)
        else:
            self.stats.in_use -= 1


class Capacity:
    """One gate per env name."""

    def __init__(self, limits: dict[str, tuple[int, int]]) -> None:
        self.gates = {env: Gate(slots, queue) for env, (slots, queue) in limits.items()}

    def gate(self, env: str) -> Gate:
        """The gate of ``env``."""
        return self.gates[env]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Counters per env, for the stats endpoint."""
        out: dict[str, dict[str, int]] = {}
        for env, g in self.gates.items():
            s = g.stats
            out[env] = {
                "slots": g.slots,
                "queue_limit": g.queue,
                "in_use": s.in_use,
                "queued": s.queued,
                "admitted": s.admitted,
                "rejected": s.rejected,
                "timed_out": s.timed_out,
                "max_queued": s.max_queued,
            }
        return out
