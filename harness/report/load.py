"""Read a report directory: ``summary.json`` of any known schema version, plus ``streams.jsonl``.

Every reader upgrades its version to one in-memory shape (:class:`RunData`), so the renderers know
one layout only. Adding ``flowload.summary/2`` means adding one function to ``_UPGRADERS`` and
keeping an example of each version under ``tests/fixtures/summary/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.errors import FlowloadError
from harness.records import RecordsError, read_records
from harness.result import OUTCOMES
from harness.rundir import STREAMS_FILE, SUMMARY_FILE
from harness.secrets import mask_key_text, redact_url
from harness.stats.block import NOTES


def mask_secrets(text: str) -> str:
    """``text`` with key values and URL credentials masked (``env=...`` and the like kept).

    Defence in depth: the harness never writes a key into a record, but a report is shared
    widely, so anything that looks like one in free text is masked again on the way in.
    """
    return mask_key_text(text)


class ReportError(FlowloadError):
    """A report directory cannot be read or a report cannot be written."""


class DamagedSummaryError(ReportError):
    """``summary.json`` is missing or damaged (not an unknown version): rebuildable from records."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """The fields of one ``streams.jsonl`` line the reports use (milliseconds, epoch seconds)."""

    t: float
    env: str
    flow: str
    outcome: str
    duration_ms: float
    job_id: str | None = None
    status: int | None = None
    ttfb_ms: float | None = None
    ttfi_ms: float | None = None
    items: int = 0
    bytes: int = 0
    itl_p50_ms: float | None = None
    itl_max_ms: float | None = None
    limit_used: float | None = None
    error: str | None = None
    worker: str = ""

    @property
    def end(self) -> float:
        """Epoch seconds when the stream ended."""
        return self.t + self.duration_ms / 1000.0


@dataclass(frozen=True)
class RunData:
    """One run as the reports see it, whatever schema version it was written with."""

    directory: Path
    schema: str
    run: dict[str, Any]
    overall: dict[str, Any]
    by_env: dict[str, dict[str, Any]]
    by_env_flow: list[dict[str, Any]]
    gates: list[dict[str, Any]]
    steps: list[dict[str, Any]] | None = None
    records: list[StreamRecord] = field(default_factory=list)
    bad_lines: int = 0
    has_records_file: bool = False

    @property
    def limit_s(self) -> float:
        """The server's execution limit the run assumed (seconds)."""
        return float(self.run.get("limit_s") or 300.0)

    @property
    def envs(self) -> list[str]:
        """Env names in the summary's order."""
        return list(self.by_env)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def to_stream_record(raw: dict[str, Any]) -> StreamRecord | None:
    """One parsed ``streams.jsonl`` object as a record; None when a required field is unusable."""
    t = _number(raw.get("t"))
    duration = _number(raw.get("duration_ms"))
    env, flow, outcome = raw.get("env"), raw.get("flow"), raw.get("outcome")
    if t is None or duration is None or not all(isinstance(x, str) for x in (env, flow, outcome)):
        return None
    status = raw.get("status")
    return StreamRecord(
        t=t,
        env=str(env),
        flow=str(flow),
        outcome=str(outcome),
        duration_ms=duration,
        job_id=_text(raw.get("job_id")),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        ttfb_ms=_number(raw.get("ttfb_ms")),
        ttfi_ms=_number(raw.get("ttfi_ms")),
        items=int(_number(raw.get("items")) or 0),
        bytes=int(_number(raw.get("bytes")) or 0),
        itl_p50_ms=_number(raw.get("itl_p50_ms")),
        itl_max_ms=_number(raw.get("itl_max_ms")),
        limit_used=_number(raw.get("limit_used")),
        error=None if raw.get("error") is None else mask_secrets(str(raw["error"])),
        worker=str(raw.get("worker") or ""),
    )


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


def read_summary_any(path: Path) -> tuple[str, dict[str, Any]]:
    """Read a summary of any supported version: ``(schema, sections in the current shape)``."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise DamagedSummaryError(
            f"{path} not found: is this a flowload report directory?"
        ) from exc
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise DamagedSummaryError(
            f"{path} is not valid JSON ({exc}); was the run interrupted?"
        ) from exc
    if not isinstance(data, dict):
        raise DamagedSummaryError(f"{path}: expected a JSON object, found {type(data).__name__}")
    schema = data.get("schema")
    upgrade = _UPGRADERS.get(schema) if isinstance(schema, str) else None
    if upgrade is None:
        raise ReportError(
            f"{path}: unknown schema {schema!r}; this flowload reads "
            f"{', '.join(SUPPORTED_SCHEMAS)} (a newer flowload may read it)"
        )
    return str(schema), upgrade(data, path)


def _load_records(path: Path) -> tuple[list[StreamRecord], int]:
    """The usable records of ``streams.jsonl`` in time order, and how many lines were not."""
    try:
        loaded = read_records(path)
    except RecordsError as exc:
        raise ReportError(str(exc)) from exc
    records: list[StreamRecord] = []
    bad = len(loaded.bad_lines)
    for raw in loaded.records:
        record = to_stream_record(raw)
        if record is None:
            bad += 1
        else:
            records.append(record)
    records.sort(key=lambda r: r.t)
    return records, bad


def _rebuilt(records: list[StreamRecord]) -> tuple[str, dict[str, Any]]:
    """A summary's sections rebuilt from the records (summary.json missing or damaged)."""
    from harness.report.rebuild import summary_from_records  # noqa: PLC0415 - imports this module

    summary = summary_from_records(records)
    return str(summary["schema"]), _from_v1(summary, Path(SUMMARY_FILE))


def load_run(directory: Path) -> RunData:
    """Read ``summary.json`` and (when present) ``streams.jsonl`` from a report directory.

    When ``summary.json`` is missing or damaged but ``streams.jsonl`` has records, the summary
    is rebuilt from them (``run.rebuilt_from_records`` is then true; see harness.report.rebuild).
    """
    if not directory.is_dir():
        raise ReportError(f"{directory} is not a directory: give a run's --report-dir")
    streams_path = directory / STREAMS_FILE
    has_file = streams_path.is_file()
    records, bad = _load_records(streams_path) if has_file else ([], 0)
    try:
        schema, sections = read_summary_any(directory / SUMMARY_FILE)
    except DamagedSummaryError:
        if not records:
            raise
        schema, sections = _rebuilt(records)
    run_info = sections["run"]
    if isinstance(run_info.get("host"), str):
        sections["run"] = {**run_info, "host": redact_url(run_info["host"])}
    return RunData(
        directory=directory,
        schema=schema,
        records=records,
        bad_lines=bad,
        has_records_file=has_file,
        **sections,
    )
