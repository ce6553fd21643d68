"""One load step's result (`summary.json` ``steps`` entries) as a validated record.

A step is one level of load held for a while: ``users`` concurrent streams (stepped closed-loop
load) or ``rate`` stream starts per second (open-loop arrivals). Its ``stats`` is the design's
stats block over the step's measuring window, settling period excluded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeGuard

from harness.capacity.errors import CapacityError

LoadKind = Literal["users", "rate"]
LOAD_KINDS: tuple[LoadKind, ...] = ("users", "rate")
OVERALL = "*"
"""The env key used for a step's overall stats block (all envs merged)."""

# Keys of a ``steps`` entry that describe the step itself rather than its statistics.
_ENTRY_KEYS = frozenset({"step", "users", "rate", "started", "ended", "overall", "by_env"})


@dataclass(frozen=True, slots=True)
class StepResult:
    """The statistics of one load step for one env (or all envs merged)."""

    step: int
    load: float
    load_kind: LoadKind
    started: str
    ended: str
    stats: Mapping[str, Any] = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 0:
            raise CapacityError(f"step index must be an integer >= 0, got {self.step!r}")
        if self.load_kind not in LOAD_KINDS:
            raise CapacityError(
                f"step {self.step}: load kind must be one of {', '.join(LOAD_KINDS)}, "
                f"got {self.load_kind!r}"
            )
        if not _is_number(self.load) or not math.isfinite(self.load) or self.load <= 0:
            raise CapacityError(
                f"step {self.step}: {self.load_kind} must be a finite number > 0, got {self.load!r}"
            )
        if not isinstance(self.stats, Mapping):
            raise CapacityError(
                f"step {self.step}: stats must be a stats block (an object), "
                f"got {type(self.stats).__name__}"
            )
        object.__setattr__(self, "load", float(self.load))
        object.__setattr__(self, "stats", MappingProxyType(dict(self.stats)))

    @property
    def throughput(self) -> float | None:
        """Completed streams per second in the step (None when absent or not a finite number)."""
        return self.scalar("streams_per_s")

    @property
    def goodput(self) -> float | None:
        """Streams per second that ended ``ok``: what capacity is about.

        Fast rejections (429/503 once a queue is full) raise ``streams_per_s`` while the
        server does no more useful work, so saturation and the model use this rate instead.
        """
        throughput = self.throughput
        if throughput is None:
            return None
        ok, streams = self.outcome("ok"), self.streams
        if ok is not None and streams > 0:
            return throughput * min(ok, streams) / streams
        error_rate = self.scalar("error_rate")
        if error_rate is not None and 0 <= error_rate <= 1:
            return throughput * (1.0 - error_rate)
        return throughput

    @property
    def streams(self) -> int:
        """Streams counted in the step (0 when absent)."""
        value = self.scalar("streams")
        return int(value) if value is not None else 0

    def scalar(self, name: str) -> float | None:
        """A top-level number of the stats block, e.g. ``error_rate``; None if missing or NaN."""
        return _finite(self.stats.get(name))

    def stat(self, block: str, stat: str) -> float | None:
        """One statistic of a metric block, e.g. ``stat("ttfi_ms", "p95")``; None if absent."""
        metric = self.stats.get(block)
        if not isinstance(metric, Mapping):
            return None
        return _finite(metric.get(stat))

    def outcome(self, name: str) -> float | None:
        """The count of one outcome (``ok``, ``limit_exceeded``, ...); None if absent."""
        outcomes = self.stats.get("outcomes")
        if not isinstance(outcomes, Mapping):
            return None
        return _finite(outcomes.get(name))

    def to_json(self) -> dict[str, Any]:
        """The ``steps`` entry shape: ``{step, users|rate, started, ended, **stats}``."""
        return {
            "step": self.step,
            self.load_kind: self.load,
            "started": self.started,
            "ended": self.ended,
            **self.stats,
        }


def step_from_dict(entry: Mapping[str, Any], stats: Mapping[str, Any] | None = None) -> StepResult:
    """Build a step from a ``steps`` entry; ``stats`` overrides the block (e.g. one env's).

    Without ``stats`` the entry's own keys are the block (the flat ``{step, users, ...,
    streams, outcomes, ...}`` shape), or its ``overall`` object when it has one.
    """
    if not isinstance(entry, Mapping):
        raise CapacityError(f"a step must be an object, got {type(entry).__name__}")
    has = [k for k in LOAD_KINDS if k in entry]
    if len(has) != 1:
        raise CapacityError(
            f"step {entry.get('step', '?')!r} must have exactly one of 'users' (stepped "
            f"concurrency) or 'rate' (arrivals per second), found {has or 'neither'}"
        )
    kind: LoadKind = has[0]
    if stats is None:
        overall = entry.get("overall")
        if isinstance(overall, Mapping):
            stats = overall
        else:
            stats = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    return StepResult(
        step=entry.get("step", -1),
        load=entry[kind],
        load_kind=kind,
        started=str(entry.get("started", "")),
        ended=str(entry.get("ended", "")),
        stats=stats,
    )


def steps_by_env(steps: Sequence[Mapping[str, Any]]) -> dict[str, list[StepResult]]:
    """Group a summary's ``steps`` list per env.

    An entry with a ``by_env`` object gives one step per env in it; its ``overall`` object (or,
    without ``by_env``, the entry's own flat stats block) gives the step under the key ``"*"``.
    """
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise CapacityError(f"steps must be a list of step objects, got {type(steps).__name__}")
    grouped: dict[str, list[StepResult]] = {}
    for entry in steps:
        by_env = entry.get("by_env") if isinstance(entry, Mapping) else None
        if isinstance(by_env, Mapping):
            for env, block in by_env.items():
                grouped.setdefault(str(env), []).append(step_from_dict(entry, block))
            if isinstance(entry.get("overall"), Mapping):
                grouped.setdefault(OVERALL, []).append(step_from_dict(entry))
        else:
            grouped.setdefault(OVERALL, []).append(step_from_dict(entry))
    return grouped


def ordered(steps: Sequence[StepResult]) -> list[StepResult]:
    """The steps by increasing load; raise CapacityError on mixed kinds or repeated loads."""
    kinds = {s.load_kind for s in steps}
    if len(kinds) > 1:
        raise CapacityError(
            "steps mix stepped users and arrival rates; analyse each load mode separately"
        )
    result = sorted(steps, key=lambda s: s.load)
    for prev, cur in itertools.pairwise(result):
        if cur.load == prev.load:
            raise CapacityError(
                f"steps {prev.step} and {cur.step} have the same {cur.load_kind} "
                f"({cur.load:g}); give each step a distinct load"
            )
    return result


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: object) -> float | None:
    if not _is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
