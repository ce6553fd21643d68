"""The run-directory contract: what a run writes, and the one way each file is read back.

- :mod:`~harness.results.paths`: where a run writes and the names of its files;
- :mod:`~harness.results.atomic`: the one atomic write (temp file + rename);
- :mod:`~harness.results.stream`: :class:`StreamResult`, one measured stream, and its outcomes;
- :mod:`~harness.results.records`: ``streams.jsonl``, written as streams end, read as
  :class:`StreamRecord`;
- :mod:`~harness.results.summary`: ``summary.json``, built, written and read (every version);
- :mod:`~harness.results.run_data`: a finished run read back (:func:`load_run`);
- :mod:`~harness.results.rebuild`: a summary rebuilt from the records when it was lost.
"""

from __future__ import annotations

from harness.results.atomic import write_atomic
from harness.results.errors import (
    DamagedSummaryError,
    MissingSummaryError,
    RecordsError,
    ResultsError,
    SummaryError,
)
from harness.results.paths import CAPACITY_FILE, STREAMS_FILE, SUMMARY_FILE
from harness.results.records import StreamRecord, StreamsWriter, read_records
from harness.results.run_data import RunData, load_run
from harness.results.stream import NOTES, OUTCOMES, Outcome, StreamResult
from harness.results.summary import SCHEMA, RunInfo, build_summary, read_summary, write_summary

__all__ = [
    "CAPACITY_FILE",
    "NOTES",
    "OUTCOMES",
    "SCHEMA",
    "STREAMS_FILE",
    "SUMMARY_FILE",
    "DamagedSummaryError",
    "MissingSummaryError",
    "Outcome",
    "RecordsError",
    "ResultsError",
    "RunData",
    "RunInfo",
    "StreamRecord",
    "StreamResult",
    "StreamsWriter",
    "SummaryError",
    "build_summary",
    "load_run",
    "read_records",
    "read_summary",
    "write_atomic",
    "write_summary",
]
