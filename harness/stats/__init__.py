"""Mergeable stream statistics: HdrHistograms and counters per (env, flow), stats blocks, deltas.

``Recorder`` is the entry point: ``record`` each ``StreamResult``, read ``overall``/``by_env``/
``by_env_flow`` stats blocks (the ``summary.json`` contract), ``live_rows`` for the web UI, and
move statistics between Locust workers and the master with ``take_delta``/``merge_delta``.
"""

from __future__ import annotations

from harness.stats.block import StreamStats
from harness.stats.histogram import (
    METRICS,
    PERCENTILES,
    SUMMARY_KEYS,
    MetricHistogram,
    MetricSpec,
    StatsError,
)
from harness.stats.recorder import ALL, DELTA_SCHEMA, Recorder

__all__ = [
    "ALL",
    "DELTA_SCHEMA",
    "METRICS",
    "PERCENTILES",
    "SUMMARY_KEYS",
    "MetricHistogram",
    "MetricSpec",
    "Recorder",
    "StatsError",
    "StreamStats",
]
