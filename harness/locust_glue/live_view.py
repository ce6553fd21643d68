"""The web UI's live view: streams since the last reset, and per-env series over time.

Per env: TTFI p95, ITL p99, streams in flight, streams/s and items/s.

Locust-free: the glue (:mod:`harness.locust_glue.live`) feeds it finished streams (one process)
or the workers' stats deltas (the master), calls :meth:`LiveView.sample` every ``SAMPLE_S`` and
:meth:`LiveView.reset` when Locust's statistics are reset or a new test starts.

Each point describes the last ``WINDOW_S`` seconds, as Locust's own charts do: rates are counts
over the window, percentiles come from the window's histogram (the cumulative histogram minus a
mark taken a window ago), so a slowdown shows when it happens, not diluted by the whole run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.results.stream import StreamResult
from harness.stats import Recorder
from harness.stats.histogram import ITL, TTFI, HistogramMark, MetricHistogram

SAMPLE_S = 2.0  # Locust's web UI polls its statistics every 2 s
WINDOW_S = 10.0  # like Locust's "current" response time percentiles
MAX_POINTS = 900  # then every other point is dropped: memory stays bounded on long runs
SERIES = ("ttfi_p95_ms", "itl_p99_ms", "in_flight", "streams_per_s", "items_per_s")


@dataclass(frozen=True, slots=True)
class _EnvMark:
    """One env's cumulative counters and histogram marks at one sample."""

    streams: int
    items: int
    ttfi: HistogramMark
    itl: HistogramMark


@dataclass(slots=True)
class _Sample:
    at: float  # seconds since the view was reset
    envs: dict[str, _EnvMark]


@dataclass(slots=True)
class _EnvNow:
    """One env's cumulative view at a sample: counters and merged histograms."""

    streams: int = 0
    items: int = 0
    ttfi: MetricHistogram = field(default_factory=lambda: MetricHistogram(TTFI))
    itl: MetricHistogram = field(default_factory=lambda: MetricHistogram(ITL))

    def mark(self) -> _EnvMark:
        return _EnvMark(self.streams, self.items, self.ttfi.mark(), self.itl.mark())


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class LiveView:
    """Statistics since the last reset, and per-env time series of windowed values."""

    def __init__(self, envs: Sequence[str] = ()) -> None:
        self.envs: list[str] = []
        self.recorder = Recorder()
        self.times: list[float] = []
        self.series: dict[str, dict[str, list[float | None]]] = {}
        self._marks: deque[_Sample] = deque()
        self.running = False
        self.reset(0.0, envs, running=False)

    def reset(self, now: float, envs: Sequence[str] = (), *, running: bool = True) -> None:
        """Forget everything; ``now`` (seconds, any clock) is the new time zero.

        ``running``: a test runs (its samples follow); False until then.
        """
        self.running = running
        self.envs = list(envs)
        self.recorder = Recorder()
        self.times = []
        self.series = {}
        self._origin = now
        self._marks = deque([_Sample(0.0, {})])

    def record(self, result: StreamResult) -> None:
        """Count one finished stream (a single process)."""
        self.recorder.record(result)

    def merge_delta(self, delta: bytes | str | Mapping[str, Any]) -> None:
        """Count a worker's stats delta (the master); raise StatsError if it is malformed."""
        self.recorder.merge_delta(delta)

    def _env_now(self) -> dict[str, _EnvNow]:
        now: dict[str, _EnvNow] = {}
        for env, flow in self.recorder.keys():  # noqa: SIM118 - a method, not a dict
            stats = self.recorder.stats(env, flow)
            totals = now.setdefault(env, _EnvNow())
            totals.streams += stats.streams
            totals.items += stats.items
            totals.ttfi.merge(stats.metrics[TTFI.name])
            totals.itl.merge(stats.metrics[ITL.name])
        return now

    def sample(self, now: float, in_flight: Mapping[str, int]) -> None:
        """Add one point per env: the last ``WINDOW_S`` seconds, and streams in flight now."""
        at = max(0.0, now - self._origin)
        while len(self._marks) > 1 and self._marks[1].at <= at - WINDOW_S:
            self._marks.popleft()
        base = self._marks[0]
        span = max(at - base.at, SAMPLE_S)  # a point just after a reset: no spike from 1 s
        current = self._env_now()
        for env in [*current, *in_flight]:
            if env not in self.envs:
                self.envs.append(env)
        self.times.append(round(at, 3))
        for env in self.envs:
            point = _window(current.get(env, _EnvNow()), base.envs.get(env), span)
            point["in_flight"] = float(in_flight.get(env, 0))
            series = self.series.setdefault(env, {name: [] for name in SERIES})
            for name in SERIES:
                values = series[name]
                values.extend([None] * (len(self.times) - 1 - len(values)))  # a late env
                values.append(point[name])
        self._marks.append(_Sample(at, {env: c.mark() for env, c in current.items()}))
        if len(self.times) > MAX_POINTS:
            self._thin()

    def _thin(self) -> None:
        """Keep every other point (the newest always)."""
        keep = slice((len(self.times) - 1) % 2, None, 2)
        self.times = self.times[keep]
        for series in self.series.values():
            for name, values in series.items():
                series[name] = values[keep]

    def latest(self) -> dict[str, dict[str, float | None]]:
        """Each env's newest point (empty before the first sample)."""
        if not self.times:
            return {}
        return {
            env: {name: values[-1] for name, values in series.items()}
            for env, series in self.series.items()
        }

    def to_json(self) -> dict[str, Any]:
        """The time series and the newest values, JSON-ready."""
        return {
            "sample_s": SAMPLE_S,
            "window_s": WINDOW_S,
            "envs": self.envs,
            "t": self.times,
            "series": self.series,
            "latest": self.latest(),
        }


def _window(current: _EnvNow, base: _EnvMark | None, span: float) -> dict[str, float | None]:
    """Rates and percentiles of the streams that ended between ``base`` and now."""
    streams, items = current.streams, current.items
    ttfi, itl = current.ttfi, current.itl
    if base is not None:
        streams -= base.streams
        items -= base.items
        ttfi, itl = ttfi.since(base.ttfi), itl.since(base.itl)
    ttfi_p95 = ttfi.summary()["p95"] if ttfi.count else None
    itl_p99 = itl.summary()["p99"] if itl.count else None
    return {
        "ttfi_p95_ms": _round(float(ttfi_p95) if ttfi_p95 is not None else None),
        "itl_p99_ms": _round(float(itl_p99) if itl_p99 is not None else None),
        "streams_per_s": _round(streams / span),
        "items_per_s": _round(items / span, 1),
    }
