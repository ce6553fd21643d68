"""Per-step statistics of a capacity run: which step each stream belongs to, and its stats.

A stream counts in the step during which it was started (or, open loop, *scheduled* to start),
unless that was within the step's settling period. Each step keeps a full Recorder (so the
summary's ``steps`` carry the same stats blocks as the whole run), the arrivals it dropped, the
lag between intended and actual starts, and TTFI measured from the actual start (uncorrected),
to show what coordinated omission would have hidden.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.capacity.load_plan import LoadPlan
from harness.results.stream import StreamResult
from harness.stats import MetricHistogram, Recorder
from harness.stats.histogram import DURATION, TTFI

LAG = dataclasses.replace(DURATION, name="lag_ms")
UNCORRECTED_TTFI = dataclasses.replace(TTFI, name="ttfi_uncorrected_ms")


@dataclass
class StepStats:
    """What one step measured."""

    recorder: Recorder = field(default_factory=Recorder)
    dropped: int = 0
    lag: MetricHistogram = field(default_factory=lambda: MetricHistogram(LAG))
    ttfi_uncorrected: MetricHistogram = field(
        default_factory=lambda: MetricHistogram(UNCORRECTED_TTFI)
    )

    def merge(self, other: StepStats) -> None:
        """Add ``other`` into this step."""
        self.recorder.merge(other.recorder)
        self.dropped += other.dropped
        self.lag.merge(other.lag)
        self.ttfi_uncorrected.merge(other.ttfi_uncorrected)


class StepTracker:
    """Assigns streams to the steps of a plan, from the test's start time."""

    def __init__(self, plan: LoadPlan, started_at: float) -> None:
        self.plan = plan
        self.started_at = started_at  # epoch seconds of the test start (a timestamp)
        self.steps: dict[int, StepStats] = {}
        self.unassigned = 0  # streams started while settling or after the plan

    def _step(self, index: int) -> StepStats:
        step = self.steps.get(index)
        if step is None:
            step = self.steps[index] = StepStats()
        return step

    def record(self, result: StreamResult) -> None:
        """Count ``result`` in its step (started_at is the intended start in open loop)."""
        index = self.plan.measured(result.started_at - self.started_at)
        if index is None:
            self.unassigned += 1
            return
        step = self._step(index)
        step.recorder.record(result)
        step.lag.record(result.schedule_lag_s)
        if result.ttfi_s is not None:
            step.ttfi_uncorrected.record(max(0.0, result.ttfi_s - result.schedule_lag_s))

    def drop(self, intended_at: float) -> None:
        """An arrival scheduled at ``intended_at`` (epoch s) could not start (in-flight cap)."""
        index = self.plan.measured(intended_at - self.started_at)
        if index is not None:
            self._step(index).dropped += 1

    def take_delta(self) -> bytes:
        """Everything since the last call, encoded for a worker → master report; then reset."""
        payload = {
            str(index): {
                "recorder": step.recorder.take_delta().decode(),
                "dropped": step.dropped,
                "lag": step.lag.to_wire(),
                "ttfi_uncorrected": step.ttfi_uncorrected.to_wire(),
            }
            for index, step in self.steps.items()
        }
        self.steps = {}
        return orjson.dumps(payload)

    def merge_delta(self, delta: bytes) -> None:
        """Merge a :meth:`take_delta` result from a worker."""
        for index_text, wire in orjson.loads(delta).items():
            part = StepStats(
                dropped=int(wire["dropped"]),
                lag=MetricHistogram.from_wire(LAG, wire["lag"]),
                ttfi_uncorrected=MetricHistogram.from_wire(
                    UNCORRECTED_TTFI, wire["ttfi_uncorrected"]
                ),
            )
            part.recorder.merge_delta(wire["recorder"])
            self._step(int(index_text)).merge(part)

    def summary_steps(self) -> list[dict[str, Any]]:
        """The ``steps`` list of summary.json: every step of the plan, measured or not."""
        out = []
        window = self.plan.step_s - self.plan.settle_s
        for index, load in enumerate(self.plan.steps):
            step = self.steps.get(index, StepStats())
            begin, end = self.plan.window(index)
            out.append(
                {
                    "step": index,
                    self.plan.load_key(): load,
                    "started": _iso(self.started_at + begin),
                    "ended": _iso(self.started_at + end),
                    "settle_s": self.plan.settle_s,
                    "dropped": step.dropped,
                    "lag_ms": step.lag.summary(),
                    "ttfi_uncorrected_ms": step.ttfi_uncorrected.summary(),
                    **step.recorder.overall(window),
                    "by_env": step.recorder.by_env(window),
                }
            )
        return out


def _iso(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
