"""``summary.json``: the versioned result of a run (schema ``flowload.summary/1``).

Built and written here, and read back here only: :func:`read_summary` accepts every supported
version and upgrades it to the current shape. Adding ``flowload.summary/2`` means adding one
function to ``_UPGRADERS`` and an example of each version under ``tests/fixtures/summary/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from harness.results.atomic import write_atomic
from harness.results.errors import DamagedSummaryError, MissingSummaryError, SummaryError
from harness.results.stream import NOTES, OUTCOMES

SCHEMA = "flowload.summary/1"


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
    write_atomic(path, orjson.dumps(summary, option=orjson.OPT_INDENT_2), error=SummaryError)


def _require(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise DamagedSummaryError(
            f"{path}: key {key!r} must be a JSON {kind.__name__}, found {type(value).__name__}; "
            "the file is damaged or not a flowload summary"
        )
    return value


def _from_v1(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``flowload.summary/1``: the current in-memory shape, checked.

    Fields added to /1 later (an outcome, block counters) read as 0 in older files.
    """
    sections = {
        "run": _require(data, "run", dict, path),
        "overall": _require(data, "overall", dict, path),
        "by_env": _require(data, "by_env", dict, path),
        "by_env_flow": _require(data, "by_env_flow", list, path),
        "gates": data.get("gates") or [],
        "steps": data.get("steps"),
    }
    blocks = [sections["overall"], *sections["by_env"].values(), *sections["by_env_flow"]]
    blocks += [
        step.get("stats") or {} for step in sections["steps"] or [] if isinstance(step, dict)
    ]
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("outcomes"), dict):
            for outcome in OUTCOMES:
                block["outcomes"].setdefault(outcome.value, 0)
            for note in NOTES:
                block.setdefault(note, 0)
    return sections


_UPGRADERS: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = {
    "flowload.summary/1": _from_v1,
}
SUPPORTED_SCHEMAS: tuple[str, ...] = tuple(_UPGRADERS)


def read_summary(path: Path) -> dict[str, Any]:
    """Read a summary of any supported version, upgraded to the current shape.

    The result has ``schema`` (the version the file was written with) and the sections
    ``run``, ``overall``, ``by_env``, ``by_env_flow``, ``gates`` and ``steps`` (None when absent).
    Every consumer (reports, gates, capacity) reads summaries here, so they agree on what a
    version means.
    """
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise MissingSummaryError(
            f"{path} not found: is this a flowload report directory?"
        ) from exc
    except OSError as exc:
        raise SummaryError(f"cannot read {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise DamagedSummaryError(
            f"{path} is not valid JSON ({exc}); was the run interrupted?"
        ) from exc
    if not isinstance(data, dict):
        raise DamagedSummaryError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return upgrade_summary(data, path)


def upgrade_summary(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A parsed summary of any supported version in the current shape (see read_summary)."""
    schema = data.get("schema")
    upgrade = _UPGRADERS.get(schema) if isinstance(schema, str) else None
    if upgrade is None:
        raise SummaryError(
            f"{path}: unknown schema {schema!r}; this flowload reads "
            f"{', '.join(SUPPORTED_SCHEMAS)} (a newer flowload may read it)"
        )
    return {"schema": str(schema), **upgrade(data, path)}
