"""``summary.json``: the versioned result of a run (schema ``flowload.summary/1``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from harness.errors import FlowloadError

SCHEMA = "flowload.summary/1"


class SummaryError(FlowloadError):
    """A summary cannot be written or read."""


class StatsSource(Protocol):
    """What the summary needs from a recorder (``harness.stats.Recorder``)."""

    def overall(self, elapsed_s: float) -> dict[str, Any]:
        """The stats block over every stream."""
        ...

    def by_env(self, elapsed_s: float) -> dict[str, dict[str, Any]]:
        """Stats blocks keyed by env name."""
        ...

    def by_env_flow(self, elapsed_s: float) -> list[dict[str, Any]]:
        """Stats blocks with ``env`` and ``flow`` keys."""
        ...


@dataclass
class RunInfo:
    """The ``run`` section: what ran, when, against what (never a secret)."""

    started: dt.datetime
    ended: dt.datetime
    duration_s: float
    host: str
    users: int | None
    workers: int
    locust_version: str
    harness_version: str
    mode: str = "closed"
    limit_s: float = 300.0
    generator: dict[str, Any] = field(default_factory=dict)
    generator_saturated: bool = False
    clock: dict[str, Any] = field(default_factory=dict)  # which clock item times came from
    error_bound: dict[str, Any] = field(default_factory=dict)  # how far they can be off
    redirects: dict[str, Any] = field(default_factory=dict)  # streams redirected, and where to
    stopped_early: str | None = None  # why the run was stopped (it could not succeed)
    interrupted: bool = False
    degraded: bool = False
    lost_workers: list[str] = field(default_factory=list)
    cancelled_streams: int = 0
    embedded_simulator: bool = False
    scenario: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with ISO-8601 UTC timestamps."""
        data = asdict(self)
        data["started"] = _iso(self.started)
        data["ended"] = _iso(self.ended)
        data["duration_s"] = round(self.duration_s, 3)
        return data


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_summary(
    run: RunInfo,
    stats: StatsSource,
    gates: list[dict[str, Any]] | None = None,
    steps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble the summary document of the design's contract."""
    elapsed = run.duration_s
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "run": run.to_json(),
        "overall": stats.overall(elapsed),
        "by_env": stats.by_env(elapsed),
        "by_env_flow": stats.by_env_flow(elapsed),
        "gates": gates or [],
    }
    if steps is not None:
        summary["steps"] = steps
    return summary


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a summary."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # leave no half-written temp file behind
            tmp.unlink(missing_ok=True)
        raise SummaryError(f"cannot write {path}: {exc.strerror}") from exc


def read_summary(path: Path) -> dict[str, Any]:
    """Read a summary, checking its schema."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SummaryError(f"cannot read {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise SummaryError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise SummaryError(f"{path}: expected schema {SCHEMA!r}, found {found!r}")
    return data
