"""One process's part of a run, recording only: every finished stream into stats and records.

The Locust glue creates a :class:`RunSession` per test; users call :meth:`RunSession.record`
for every finished stream. The same class serves the single process, a worker (which ships
what it recorded to the master) and the master (which merges and writes the reports).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results.paths import STREAMS_FILE
from harness.results.records import StreamsWriter
from harness.results.stream import StreamResult
from harness.stats import Recorder
from harness.stats.steps import StepTracker


@dataclass
class RunSession:
    """The recording side of one test in one process."""

    recorder: Recorder = field(default_factory=Recorder)
    writer: StreamsWriter | None = None
    worker: str = "local"
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    cancelled: Counter[tuple[str, str]] = field(default_factory=Counter)
    pending_records: list[dict[str, Any]] = field(default_factory=list)
    keep_pending: bool = False  # a worker keeps records to ship to the master
    in_flight: int = 0  # streams started and not yet recorded or cancelled
    in_flight_by_env: Counter[str] = field(default_factory=Counter)  # the same, per env
    steps: StepTracker | None = None  # capacity runs: per-step statistics
    closed: bool = False  # the summary is written: later streams are not part of this test
    redirect_targets: Counter[str] = field(default_factory=Counter)  # where streams went

    def note(self, records: list[dict[str, Any]]) -> None:
        """Remember what records say beyond the stats (a master calls it for its workers')."""
        for record in records:
            if record.get("redirected_to"):
                self.redirect_targets[str(record["redirected_to"])] += 1

    def record(self, result: StreamResult) -> dict[str, Any]:
        """Count one finished stream in the stats and the raw records; return its record.

        After :meth:`close` (an interrupted run writes its summary while users still run) the
        stream is not recorded: the summary already counted it as cancelled (in flight).
        """
        if self.closed:
            return result.to_record(self.worker)
        self.recorder.record(result)
        if self.steps is not None:
            self.steps.record(result)
        record = result.to_record(self.worker)
        if result.redirected_to:
            self.note([record])
        if self.writer is not None:
            self.writer.write(record)
        if self.keep_pending:
            self.pending_records.append(record)
        return record

    def cancel(self, env: str, flow: str) -> None:
        """Count a stream that was still running when the test stopped (no measurement)."""
        self.cancelled[(env, flow)] += 1

    def open_records(self, directory: Path, name: str = STREAMS_FILE) -> None:
        """Start appending raw records to ``directory/name``."""
        self.writer = StreamsWriter(directory / name)

    def close(self) -> None:
        """Close the records file; streams that end later are not recorded."""
        self.closed = True
        if self.writer is not None:
            self.writer.close()
