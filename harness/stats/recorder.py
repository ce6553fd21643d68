"""The Recorder: stream statistics per (env, flow), merged views, and worker→master deltas.

On a Locust worker, call :meth:`Recorder.take_delta` periodically and send the bytes in a report
message; the master calls :meth:`Recorder.merge_delta` with each. Percentiles of merged views
(per env, overall, across workers) always come from merged histograms, never from averaged
percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from harness.results.stream import Outcome, StreamResult
from harness.stats.block import StreamStats
from harness.stats.histogram import DURATION, ITL, LIMIT_USED, TTFI, StatsError

DELTA_SCHEMA = "flowload.stats-delta/1"
ALL = "*"  # the flow (and env) name of total rows in live_rows

Key = tuple[str, str]


def _merged(parts: Iterable[StreamStats]) -> StreamStats:
    total = StreamStats()
    for part in parts:
        total.merge(part)
    return total


class Recorder:
    """Mergeable statistics of finished streams, keyed by (env, flow)."""

    __slots__ = ("_stats",)

    def __init__(self) -> None:
        self._stats: dict[Key, StreamStats] = {}

    def record(self, result: StreamResult) -> None:
        """Count one finished stream (the hot path: a dict lookup and a few histogram adds)."""
        key = (result.env, result.flow)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = StreamStats()
        stats.record(result)

    def keys(self) -> list[Key]:
        """The (env, flow) pairs seen so far, sorted."""
        return sorted(self._stats)

    def stats(self, env: str, flow: str) -> StreamStats:
        """The statistics of one (env, flow); raise StatsError naming the known keys if absent."""
        try:
            return self._stats[env, flow]
        except KeyError:
            known = ", ".join(f"{e}/{f}" for e, f in self.keys()) or "none yet"
            raise StatsError(f"no streams recorded for {env}/{flow}; known: {known}") from None

    def by_env_flow(self, elapsed_s: float) -> list[dict[str, Any]]:
        """One stats block per (env, flow), with ``env`` and ``flow`` keys, sorted."""
        return [
            {"env": env, "flow": flow, **self._stats[env, flow].block(elapsed_s)}
            for env, flow in self.keys()
        ]

    def _env_stats(self) -> dict[str, StreamStats]:
        envs: dict[str, list[StreamStats]] = {}
        for (env, _flow), stats in sorted(self._stats.items()):
            envs.setdefault(env, []).append(stats)
        return {env: _merged(parts) for env, parts in envs.items()}

    def by_env(self, elapsed_s: float) -> dict[str, dict[str, Any]]:
        """One stats block per env (flows merged), keyed and ordered by env name."""
        return {env: stats.block(elapsed_s) for env, stats in self._env_stats().items()}

    def overall(self, elapsed_s: float) -> dict[str, Any]:
        """The stats block over every stream recorded."""
        return _merged(self._stats.values()).block(elapsed_s)

    def merge(self, other: Recorder) -> None:
        """Add ``other``'s streams to this recorder (``other`` is not changed)."""
        for key, stats in other._stats.items():
            mine = self._stats.get(key)
            if mine is None:
                mine = self._stats[key] = StreamStats()
            mine.merge(stats)

    def take_delta(self) -> bytes:
        """Everything recorded since the last call, as compact JSON bytes; then reset.

        The histograms inside are HdrHistogram's compressed base64 encoding. After this call
        the recorder is empty: a worker keeps no totals, the master does.
        """
        payload = {
            "schema": DELTA_SCHEMA,
            "stats": [
                {"env": env, "flow": flow, **self._stats[env, flow].to_wire()}
                for env, flow in self.keys()
            ],
        }
        self._stats = {}
        return orjson.dumps(payload)

    def merge_delta(self, delta: bytes | str | Mapping[str, Any]) -> None:
        """Merge a :meth:`take_delta` result (bytes, or already parsed); raise StatsError if bad."""
        payload = _parse_delta(delta)
        decoded: list[tuple[Key, StreamStats]] = []
        for entry in payload["stats"]:
            env = entry.get("env") if isinstance(entry, Mapping) else None
            flow = entry.get("flow") if isinstance(entry, Mapping) else None
            if not (isinstance(env, str) and isinstance(flow, str)):
                raise StatsError(f"stats delta entry lacks a string env/flow: {entry!r:.200}")
            decoded.append(((env, flow), StreamStats.from_wire(entry)))
        # Decode everything before merging anything, so a bad delta changes nothing.
        for key, stats in decoded:
            mine = self._stats.get(key)
            if mine is None:
                self._stats[key] = stats
            else:
                mine.merge(stats)

    def live_rows(self) -> list[dict[str, Any]]:
        """Rows for the web UI's Streaming tab.

        Per env: one row per flow, then the env's total row (``flow`` is ``"*"``); last, the
        overall row (``env`` and ``flow`` both ``"*"``) when anything was recorded.
        """
        rows: list[dict[str, Any]] = []
        envs = self._env_stats()
        for env, env_stats in envs.items():
            rows.extend(
                _live_row(env, f, s) for (e, f), s in sorted(self._stats.items()) if e == env
            )
            rows.append(_live_row(env, ALL, env_stats))
        if envs:
            rows.append(_live_row(ALL, ALL, _merged(envs.values())))
        return rows


def _parse_delta(delta: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(delta, Mapping):
        payload: Any = delta
    else:
        try:
            payload = orjson.loads(delta)
        except orjson.JSONDecodeError as exc:
            raise StatsError(f"a stats delta is not valid JSON ({exc})") from exc
    if not isinstance(payload, Mapping) or payload.get("schema") != DELTA_SCHEMA:
        found = payload.get("schema") if isinstance(payload, Mapping) else type(payload).__name__
        raise StatsError(
            f"a stats delta must be an object with schema {DELTA_SCHEMA!r}, got {found!r}: "
            "master and workers must run the same flowload version"
        )
    if not isinstance(payload.get("stats"), list):
        raise StatsError("a stats delta must have a 'stats' list")
    return payload


def _live_row(env: str, flow: str, stats: StreamStats) -> dict[str, Any]:
    ttfi = stats.metrics[TTFI.name].summary()
    itl = stats.metrics[ITL.name].summary()
    duration = stats.metrics[DURATION.name].summary()
    outcomes = stats.outcomes
    ok_pct = 100.0 * outcomes[Outcome.OK.value] / stats.streams if stats.streams else None
    return {
        "env": env,
        "flow": flow,
        "streams": stats.streams,
        "ok_pct": ok_pct,
        "ttfi_p50_ms": ttfi["p50"],
        "ttfi_p95_ms": ttfi["p95"],
        "ttfi_p99_ms": ttfi["p99"],
        "itl_p50_ms": itl["p50"],
        "itl_p99_ms": itl["p99"],
        "duration_p95_ms": duration["p95"],
        "duration_max_ms": duration["max"],
        "limit_used_max": stats.metrics[LIMIT_USED.name].summary()["max"],
        "outcomes": outcomes,
    }
