"""Reports of a run directory: ``report.html``, ``summary.md``, ``stats.csv``, and comparisons.

Everything is rebuilt from ``summary.json`` and ``streams.jsonl``, so a report can be regenerated
at any time (``flowload report DIR``) and two runs compared (``flowload compare BASE NEW``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.report.errors import ReportError
from harness.results import RunData, load_run, write_atomic

if TYPE_CHECKING:
    from harness.report.compare.analysis import CompareOptions, RunComparison

REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
STATS_CSV = "stats.csv"
COMPARISON_HTML = "comparison.html"
COMPARISON_MD = "comparison.md"

__all__ = [
    "COMPARISON_HTML",
    "COMPARISON_MD",
    "REPORT_HTML",
    "STATS_CSV",
    "SUMMARY_MD",
    "ReportError",
    "RunData",
    "compare_and_write",
    "load_run",
    "write_comparison",
    "write_reports",
]


def _write(path: Path, text: str) -> Path:
    """Write atomically: a reader never sees half a report."""
    return write_atomic(path, text, error=ReportError, parents=True)


def write_reports(report_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Write report.html, summary.md and stats.csv for the run in ``report_dir``.

    They go to ``out_dir`` (default: ``report_dir`` itself). Returns the paths written.
    """
    # Imported here so reading a summary does not pay for matplotlib.
    from harness.report.run.csv_out import render_csv  # noqa: PLC0415
    from harness.report.run.html import render_report  # noqa: PLC0415
    from harness.report.run.markdown import render_markdown  # noqa: PLC0415

    run = load_run(report_dir)
    target = out_dir or report_dir
    return [
        _write(target / REPORT_HTML, render_report(run)),
        _write(target / SUMMARY_MD, render_markdown(run)),
        _write(target / STATS_CSV, render_csv(run)),
    ]


def write_comparison(
    base_dir: Path, new_dir: Path, out_dir: Path, options: CompareOptions | None = None
) -> list[Path]:
    """Compare two runs; write comparison.html and comparison.md to ``out_dir``.

    ``options``: when a change is reported (alpha, correction, minimum change).
    """
    return compare_and_write(base_dir, new_dir, out_dir, options)[1]


def compare_and_write(
    base_dir: Path, new_dir: Path, out_dir: Path, options: CompareOptions | None = None
) -> tuple[RunComparison, list[Path]]:
    """:func:`write_comparison`, also returning the comparison (for a summary on the console)."""
    from harness.report.compare.analysis import compare_runs  # noqa: PLC0415
    from harness.report.compare.html import render_comparison_html  # noqa: PLC0415
    from harness.report.compare.markdown import render_comparison_md  # noqa: PLC0415

    base, new = load_run(base_dir), load_run(new_dir)
    result = compare_runs(base, new, options)
    return result, [
        _write(out_dir / COMPARISON_HTML, render_comparison_html(result)),
        _write(out_dir / COMPARISON_MD, render_comparison_md(result)),
    ]
