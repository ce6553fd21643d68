"""What goes wrong writing a report."""

from __future__ import annotations

from harness.errors import FlowloadError


class ReportError(FlowloadError):
    """A report cannot be written (reading a run raises :class:`harness.results.ResultsError`)."""
