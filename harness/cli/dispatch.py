"""``flowload``: the command-line entry point (subcommands dispatch to their modules)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import harness

_USAGE = """\
flowload COMMAND [ARGS]

commands:
  simulate    serve the bundled Flow simulator (flowload simulate --help)
  report      (re)build report.html, summary.md, stats.csv of a run: report DIR [--out DIR]
  compare     compare two runs: compare BASE NEW [--out DIR]
  gate        judge gates on a finished run's summary.json: gate DIR --gate EXPR ...
  capacity    run a capacity plan and analyse it: capacity [--quick] [--flow-config FILE]
  options     list the options flowload adds to locust (--flow-config, --gate, ...)
  version     print the flowload version (also: flowload --version)

The load test itself runs under Locust:
  locust -f locustfiles/flow_stream.py --headless -u 10 -r 10 -t 30s
"""


def _simulate(argv: Sequence[str]) -> int:
    from harness.cli.simulator import main as simulate_main  # noqa: PLC0415

    return simulate_main(argv)


def _report(argv: Sequence[str]) -> int:
    from harness.cli.report import report_main  # noqa: PLC0415

    return report_main(argv)


def _compare(argv: Sequence[str]) -> int:
    from harness.cli.report import compare_main  # noqa: PLC0415

    return compare_main(argv)


def _gate(argv: Sequence[str]) -> int:
    from harness.cli.gate import gate_main  # noqa: PLC0415

    return gate_main(argv)


def _capacity(argv: Sequence[str]) -> int:
    from harness.cli.capacity import capacity_main  # noqa: PLC0415

    return capacity_main(argv)


def _options(_argv: Sequence[str]) -> int:
    from harness.locust_glue.options import options_help  # noqa: PLC0415 - imports Locust

    sys.stdout.write(options_help())
    return 0


def _version(_argv: Sequence[str]) -> int:
    sys.stdout.write(f"flowload {harness.__version__}\n")
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "simulate": _simulate,
    "report": _report,
    "compare": _compare,
    "gate": _gate,
    "capacity": _capacity,
    "options": _options,
    "version": _version,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``flowload COMMAND ...``; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="flowload", usage=_USAGE, add_help=False)
    parser.add_argument("command", nargs="?")
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("-V", "--version", action="store_true")
    known, rest = parser.parse_known_args(args[:1])
    if known.version:
        return _version([])
    if known.help or not known.command:
        sys.stdout.write(_USAGE)
        return 0 if known.help else 2
    handler = COMMANDS.get(known.command)
    if handler is None:
        sys.stderr.write(
            f"flowload: unknown command {known.command!r}; valid: {', '.join(COMMANDS)}\n"
        )
        return 2
    return handler(rest + args[1:])
