"""``flowload capacity``: run a capacity plan under Locust, analyse it, write the capacity report.

One command for the whole plan: Locust runs as a subprocess (its output streams through), with
the packaged capacity locustfile of the plan's mode; then summary.json is analysed (per env:
highest step within the SLO, saturation, USL fit, Little's law, limit headroom) and
capacity.json, capacity.html and capacity.md are written next to Locust's own reports.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness.capacity.load_plan import LoadMode, load_plan
from harness.capacity.run_analysis import analyse_run, read_summary, write_capacity_json
from harness.capacity.scenario_file import (
    ScenarioChoice,
    demo_scenario,
    derive_scenario,
    read_toml,
    write_scenario,
)
from harness.cli.args import Parser, UsageError
from harness.cli.exitcodes import EXIT_COULD_NOT_RUN, EXIT_OK, EXIT_USAGE
from harness.config import Scenario, load_scenario
from harness.errors import FlowloadError
from harness.results.paths import default_report_dir, prepare_report_dir

# harness/locust_glue/locustfiles/, found without importing Locust (it loads in the child).
PACKAGED_LOCUSTFILES = Path(harness.__file__).resolve().parent / "locust_glue" / "locustfiles"
LOCUSTFILES = {
    LoadMode.STEPPED: "capacity_stepped.py",
    LoadMode.ARRIVAL: "capacity_arrival.py",
}
_DESCRIPTION = """\
Run a capacity plan (stepped users or an open-loop arrival rate) and report, per environment,
how many concurrent streams (and streams/s) it sustains within the SLO, where it saturates, and
what a fitted Universal Scalability Law model predicts beyond the measured range.

Without --host and without [target] in the scenario, the run targets the bundled simulator with
its capacity demo profile (execution slots per env: Production 8, Test 5, Development 3).
The SLO comes from [capacity.slo], else the scenario's [[gates]], else TTFI p95 < 800 ms and
error rate < 1%.
"""
_EPILOG = """\
examples:
  flowload capacity --quick                      # 2.5-minute demo against the simulator
  flowload capacity --flow-config examples/capacity.toml --report-dir reports/cap1
  flowload capacity --flow-config my.toml --mode arrival --workers 2
  flowload capacity --flow-config my.toml -- --loglevel WARNING   # extra Locust options

writes (into --report-dir): capacity.html, capacity.md, capacity.json, plus Locust's run
reports (summary.json, streams.jsonl, report.html, ...) and, when the scenario had to be
generated or adapted, capacity-scenario.toml.
exit codes: 0 done; Locust's code when it failed (the report is still written when it can
be); 2 bad arguments; 3 could not run (bad scenario, no steps measured).
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number), got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flowload capacity``."""
    parser = Parser(
        prog="flowload capacity",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--flow-config", type=Path, metavar="FILE", help="scenario TOML with a [capacity] plan")
    add("--quick", action="store_true", help="the short plan: 3-5 steps, 2.5 minutes in all")
    add("--report-dir", type=Path, metavar="DIR", help="default: reports/<UTC time>-<id>/")
    add(
        "--mode",
        choices=[m.value for m in LoadMode],
        help="stepped users (closed loop) or arrival rate (open loop); default: the scenario's",
    )
    add("--host", metavar="URL", help="the server to load (overrides [target] url)")
    add(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="N local worker processes (Locust --processes N); default: one process",
    )
    add(
        "--stop-timeout",
        type=_seconds,
        default=15.0,
        metavar="S",
        help="seconds in-flight streams may finish at the end (default 15)",
    )
    add("locust_args", nargs="*", metavar="-- LOCUST_ARGS", help="passed on to Locust")
    return parser


@dataclass(frozen=True, slots=True)
class CapacityArgs:
    """The parsed command line."""

    flow_config: Path | None
    quick: bool
    report_dir: Path
    mode: LoadMode | None
    host: str | None
    workers: int | None
    stop_timeout: float
    locust_args: tuple[str, ...]


def parse_args(argv: Sequence[str]) -> CapacityArgs:
    """Parse ``argv``; raise UsageError (exit 2) on a bad command line."""
    ns = build_parser().parse_args(list(argv))
    if ns.flow_config is not None and not ns.flow_config.is_file():
        raise UsageError(
            f"flowload capacity: --flow-config {ns.flow_config} is not a file; give the path "
            "of a scenario TOML (see examples/capacity.toml)"
        )
    return CapacityArgs(
        flow_config=ns.flow_config,
        quick=bool(ns.quick),
        report_dir=ns.report_dir or default_report_dir(),
        mode=LoadMode(ns.mode) if ns.mode else None,
        host=ns.host or None,
        workers=ns.workers,
        stop_timeout=float(ns.stop_timeout),
        locust_args=tuple(ns.locust_args),
    )


def choose_scenario(args: CapacityArgs) -> ScenarioChoice:
    """The scenario file of this run: the user's as is, an adapted copy, or the demo."""
    if args.flow_config is None:
        if args.host:
            data = demo_scenario(args.mode or LoadMode.STEPPED)
            data.pop("simulator")
            data["_comment"] = "written by flowload capacity: demo plan for --host"
            path = write_scenario(data, args.report_dir)
            return ScenarioChoice(path, True, "the demo plan against --host")
        path = write_scenario(demo_scenario(args.mode or LoadMode.STEPPED), args.report_dir)
        return ScenarioChoice(path, True, "the bundled simulator with the capacity demo profile")
    source = args.flow_config
    # Validate first: a file with a literal API key is refused before any copy of it is written.
    load_scenario(source)
    data = read_toml(source)
    simulator = not args.host and "target" not in data
    derived, changes = derive_scenario(data, source, mode=args.mode, simulator=simulator)
    if not changes:
        return ScenarioChoice(source, False, f"{source} as is")
    derived["_comment"] = f"written by flowload capacity from {source}: " + "; ".join(changes)
    return ScenarioChoice(write_scenario(derived, args.report_dir), True, "; ".join(changes))


def locust_command(args: CapacityArgs, scenario: Path, mode: LoadMode) -> list[str]:
    """``python -m locust -f <packaged capacity locustfile> --headless ...`` for this run."""
    locustfile = PACKAGED_LOCUSTFILES / LOCUSTFILES[mode]
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
    command += ["--flow-config", str(scenario), "--report-dir", str(args.report_dir)]
    command += ["--stop-timeout", f"{args.stop_timeout:g}"]
    # Errors are expected at the saturated steps: they are the findings, not a failed command.
    command += ["--exit-code-on-error", "0"]
    if args.quick:
        command.append("--capacity-quick")
    if args.host:
        command += ["--host", args.host]
    if args.workers:
        command += ["--processes", str(args.workers)]
    return command + list(args.locust_args)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _prepare(args: CapacityArgs) -> tuple[ScenarioChoice, Scenario, LoadMode]:
    prepare_report_dir(args.report_dir)
    choice = choose_scenario(args)
    path = choice.path
    scenario = load_scenario(path) if path is not None else Scenario()
    plan = load_plan(scenario.capacity, quick=args.quick)
    return choice, scenario, plan.mode


def _report(args: CapacityArgs, scenario: Scenario) -> int:
    # Imported here: matplotlib is only needed once the run is over.
    from harness.report.capacity.render import console_table, write_capacity_reports  # noqa: PLC0415

    result = analyse_run(read_summary(args.report_dir), scenario)
    written = [write_capacity_json(result, args.report_dir)]
    written += write_capacity_reports(result, args.report_dir)
    _say("\n" + console_table(result))
    _say("flowload capacity: wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def capacity_main(argv: Sequence[str]) -> int:
    """Run ``flowload capacity ARGS``; return the exit code."""
    try:
        args = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help: argparse printed it and wants to exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else 0
    try:
        choice, scenario, mode = _prepare(args)
    except FlowloadError as exc:
        sys.stderr.write(f"flowload capacity: cannot run: {exc}\n")
        return EXIT_COULD_NOT_RUN
    _say(f"flowload capacity: {mode.value} plan, scenario: {choice.reason}")
    if choice.generated and choice.path is not None:
        _say(f"flowload capacity: the run's scenario is in {choice.path}")
    command = locust_command(args, choice.path or Path(), mode)
    code = subprocess.run(command, check=False).returncode  # noqa: S603 - our own argv
    if code == EXIT_COULD_NOT_RUN:
        return code
    try:
        report_code = _report(args, scenario)
    except FlowloadError as exc:
        sys.stderr.write(f"flowload capacity: no capacity report: {exc}\n")
        return code or EXIT_COULD_NOT_RUN
    return code or report_code


if __name__ == "__main__":
    sys.exit(capacity_main(sys.argv[1:]))
