"""``flowload gate DIR``: judge a finished run's gates again, without running any load.

Useful to try gates on a real run before putting them in CI, or to gate a run against a
baseline after the fact. Exit codes as for a run: 0 passed, 4 failed, 5 inconclusive, 3 when
the gates, scenario or files cannot be used, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.args import Parser, parse
from harness.cli.exitcodes import EXIT_COULD_NOT_RUN, EXIT_USAGE
from harness.config import default_scenario, load_scenario
from harness.errors import FlowloadError
from harness.gates.display import format_gates
from harness.gates.evaluate import DEFAULT_ALPHA, DEFAULT_MIN_STREAMS, exit_code_for
from harness.gates.junit import write_junit
from harness.gates.settings import (
    build_settings,
    judge_run,
    parse_alpha,
    parse_min_streams,
    summary_path,
)
from harness.results.summary import read_summary

__all__ = ["gate_main"]

_EPILOG = """\
examples:
  flowload gate reports/ci --flow-config examples/ci/scenario.toml
  flowload gate reports/new --gate "Production: ttfi.p95 < 800ms" --gate "error_rate < 1%"
  flowload gate reports/new --baseline reports/old --gate "ttfi.p95 <= baseline * 1.1 significant"

exit codes: 0 all passed, 4 a gate failed, 5 inconclusive, 3 unusable gates or files, 2 usage.
Grammar: [ENV[/FLOW]:] METRIC[.STAT] OP VALUE[UNIT] [significant] (docs/gates.md).
"""


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flowload gate",
        description="Judge gates on a finished run's summary.json (no load is sent).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, help="the run's report directory or its summary.json")
    parser.add_argument(
        "--gate", action="append", default=[], metavar="EXPR", help="a gate (repeatable)"
    )
    parser.add_argument(
        "--flow-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="take the [[gates]] of this scenario too",
    )
    parser.add_argument(
        "--baseline", default=None, metavar="PATH", help="the baseline run (dir or summary.json)"
    )
    parser.add_argument(
        "--gate-min-streams",
        default=None,
        metavar="N",
        help=f"fewer streams in a gated env: inconclusive (default {DEFAULT_MIN_STREAMS}; 0: off)",
    )
    parser.add_argument(
        "--gate-alpha",
        default=None,
        metavar="ALPHA",
        help=f"significance level of 'significant' gates (default {DEFAULT_ALPHA})",
    )
    parser.add_argument(
        "--gate-allow-partial",
        action="store_true",
        help="judge an interrupted run on what it recorded (default: inconclusive)",
    )
    parser.add_argument(
        "--junit", type=Path, default=None, metavar="DIR", help="write junit.xml into DIR"
    )
    return parser


def gate_main(argv: Sequence[str]) -> int:
    """Run ``flowload gate ...``; return the exit code (errors: one line on stderr)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        scenario = load_scenario(args.flow_config) if args.flow_config else default_scenario()
        settings = build_settings(
            scenario,
            args.gate,
            baseline=args.baseline,
            min_streams=parse_min_streams(args.gate_min_streams),
            alpha=parse_alpha(args.gate_alpha),
            allow_partial=args.gate_allow_partial,
        )
        if not settings.gates:
            sys.stderr.write("flowload gate: no gates: give --gate EXPR or --flow-config FILE\n")
            return EXIT_USAGE
        path = summary_path(args.run)
        summary = read_summary(path)
        verdicts = judge_run(summary, settings, path.parent)
        if args.junit is not None:
            args.junit.mkdir(parents=True, exist_ok=True)
            write_junit(args.junit, verdicts, summary)
    except (FlowloadError, OSError) as exc:
        sys.stderr.write(f"flowload gate: {exc}\n")
        return EXIT_COULD_NOT_RUN
    sys.stdout.write(format_gates(verdicts) + "\n")
    return exit_code_for(verdicts)
