"""``flowload report DIR`` and ``flowload compare BASE NEW``: the reports' command line.

Expected problems (missing directory, no summary.json, bad JSON, unknown schema) print one line
on stderr and exit 2; nothing here prints a traceback for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.args import Parser, parse
from harness.cli.exitcodes import EXIT_USAGE
from harness.errors import FlowloadError

_REPORT_HELP = """\
Write report.html (plots, self-contained), summary.md (for CI summaries and PR comments) and
stats.csv (one row per env and flow) from a run's summary.json and streams.jsonl.
"""
_REPORT_EPILOG = """\
examples:
  flowload report reports/20261125-031633-a1b2c3
  flowload report reports/20261125-031633-a1b2c3 --out /tmp/share
"""
_COMPARE_HELP = """\
Compare two runs per env and per flow: the change of TTFI, TTFB, duration and per-stream ITL
percentiles, and whether each change is real (Mann-Whitney U test and bootstrap tests on the
per-stream records). A change is reported only when it is significant after correcting for the
number of tests (Holm by default) AND at least as large as the minimum change (default 10 %% of
the base value and 10 ms). Writes comparison.html and comparison.md, and prints the verdict.
"""
_COMPARE_EPILOG = """\
examples:
  flowload compare reports/before reports/after
  flowload compare reports/before reports/after --out reports/after/vs-before
  flowload compare reports/before reports/after --min-change 5 --min-change-ms 2
"""


def _report_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flowload report",
        description=_REPORT_HELP,
        epilog=_REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", type=Path, help="a run's report directory (has summary.json)")
    parser.add_argument(
        "--out", type=Path, default=None, help="write the reports here (default: DIR itself)"
    )
    return parser


def _compare_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flowload compare",
        description=_COMPARE_HELP,
        epilog=_COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base", type=Path, help="report directory of the reference run")
    parser.add_argument("new", type=Path, help="report directory of the run to judge")
    parser.add_argument(
        "--out", type=Path, default=None, help="write the comparison here (default: NEW)"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level after correction (0.05)"
    )
    parser.add_argument(
        "--correction",
        choices=("holm", "bh"),
        default="holm",
        help="multiple-comparison correction: holm (family-wise, default) or bh "
        "(Benjamini-Hochberg, false discovery rate)",
    )
    parser.add_argument(
        "--min-change",
        type=float,
        default=10.0,
        metavar="PCT",
        help="smallest change reported, in %% of the base value (default 10)",
    )
    parser.add_argument(
        "--min-change-ms",
        type=float,
        default=10.0,
        metavar="MS",
        help="smallest change reported, in milliseconds (default 10)",
    )
    return parser


def _done(prog: str, paths: list[Path]) -> int:
    sys.stdout.write("".join(f"{prog}: wrote {path}\n" for path in paths))
    return 0


def report_main(argv: Sequence[str]) -> int:
    """``flowload report DIR [--out DIR]``; return the exit code (0 ok, 2 bad input)."""
    parsed = parse(_report_parser(), argv)
    if isinstance(parsed, int):
        return parsed
    from harness.report import write_reports  # noqa: PLC0415 - keeps --help fast

    try:
        paths = write_reports(parsed.dir, parsed.out)
        paths += _write_rebuilt_summary(parsed.dir, parsed.out or parsed.dir)
    except FlowloadError as exc:
        sys.stderr.write(f"flowload report: {exc}\n")
        return EXIT_USAGE
    return _done("flowload report", paths)


REBUILT_SUMMARY = "summary.rebuilt.json"


def _write_rebuilt_summary(directory: Path, out: Path) -> list[Path]:
    """When summary.json was missing or damaged, say so and keep the rebuilt one beside it."""
    from harness.results import (  # noqa: PLC0415
        SCHEMA,
        SUMMARY_FILE,
        DamagedSummaryError,
        load_run,
        read_summary,
        write_summary,
    )

    try:  # cheap: the records are read again only when the summary needed rebuilding
        read_summary(directory / SUMMARY_FILE)
    except DamagedSummaryError:
        pass
    else:
        return []
    run = load_run(directory)
    sys.stderr.write(f"flowload report: {directory / 'summary.json'}: {run.run['note']}\n")
    path = out / REBUILT_SUMMARY
    summary = {
        "schema": SCHEMA, "run": run.run, "overall": run.overall, "by_env": run.by_env,
        "by_env_flow": run.by_env_flow, "gates": run.gates,
    }  # fmt: skip
    write_summary(path, summary)
    return [path]


def compare_main(argv: Sequence[str]) -> int:
    """``flowload compare BASE NEW [--out DIR] ...``; the exit code (0 ok, 2 bad input)."""
    parsed = parse(_compare_parser(), argv)
    if isinstance(parsed, int):
        return parsed
    from harness.report import compare_and_write  # noqa: PLC0415 - keeps --help fast
    from harness.report.compare.analysis import CompareOptions  # noqa: PLC0415
    from harness.report.compare.markdown import headline, rule_line  # noqa: PLC0415

    try:
        options = CompareOptions(
            alpha=parsed.alpha,
            correction=parsed.correction,
            min_relative=parsed.min_change / 100.0,
            min_absolute_ms=parsed.min_change_ms,
        )
        out = parsed.out or parsed.new
        result, paths = compare_and_write(parsed.base, parsed.new, out, options)
    except FlowloadError as exc:
        sys.stderr.write(f"flowload compare: {exc}\n")
        return EXIT_USAGE
    lines = [f"flowload compare: WARNING: {w}" for w in result.warnings]
    lines += [f"flowload compare: {headline(result)}", f"flowload compare: {rule_line(result)}"]
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return _done("flowload compare", paths)
