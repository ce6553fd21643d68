"""What goes wrong reading or writing a run directory."""

from __future__ import annotations

from harness.errors import FlowloadError


class ResultsError(FlowloadError):
    """A run directory's files cannot be read or written."""


class SummaryError(ResultsError):
    """``summary.json`` cannot be written, or is of a version this flowload does not read."""


class DamagedSummaryError(SummaryError):
    """``summary.json`` is missing or damaged (not an unknown version): rebuildable from records."""


class MissingSummaryError(DamagedSummaryError):
    """``summary.json`` is not there at all (the run never finished writing it)."""


class RecordsError(ResultsError):
    """``streams.jsonl`` cannot be written or read."""
