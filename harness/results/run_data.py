"""A finished run read back: ``summary.json`` of any known version plus ``streams.jsonl``.

Every version is upgraded to one in-memory shape (:class:`RunData`), so the renderers know one
layout only. When ``summary.json`` is missing or damaged but records exist, the summary is rebuilt
from them (``run.rebuilt_from_records``; see :mod:`harness.results.rebuild`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results.errors import DamagedSummaryError, ResultsError
from harness.results.paths import STREAMS_FILE, SUMMARY_FILE
from harness.results.records import StreamRecord, load_stream_records
from harness.results.summary import read_summary, upgrade_summary
from harness.secrets import redact_url


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


def _rebuilt(records: list[StreamRecord], path: Path) -> dict[str, Any]:
    """A summary rebuilt from the records (summary.json missing or damaged), in the read shape."""
    # Imported here: the rebuild needs the stats package, which needs this package's leaves.
    from harness.results.rebuild import summary_from_records  # noqa: PLC0415

    return upgrade_summary(summary_from_records(records), path)


def load_run(directory: Path) -> RunData:
    """Read ``summary.json`` and (when present) ``streams.jsonl`` from a report directory."""
    if not directory.is_dir():
        raise ResultsError(f"{directory} is not a directory: give a run's --report-dir")
    streams_path = directory / STREAMS_FILE
    has_file = streams_path.is_file()
    records, bad = load_stream_records(streams_path) if has_file else ([], 0)
    try:
        sections = read_summary(directory / SUMMARY_FILE)
    except DamagedSummaryError:
        if not records:
            raise
        sections = _rebuilt(records, directory / SUMMARY_FILE)
    schema = sections.pop("schema")
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
