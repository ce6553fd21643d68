"""Tests of harness.locust_glue.gating: options, startup checks, abort watch, end of run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import orjson
import pytest
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

from harness.cli.exitcodes import EXIT_GATES_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from harness.config import Scenario, default_scenario, loads_scenario
from harness.errors import ConfigError
from harness.flow_api import Env
from harness.gates import DEFAULT_MIN_STREAMS, GateError
from harness.locust_glue.gating import (
    GateSettings,
    add_gate_options,
    finish_gates,
    gate_settings,
    live_summary,
    print_gates,
    start_abort_watch,
)
from harness.locust_glue.options import read_options
from harness.locust_glue.state import LOCAL, GlueState
from harness.results.stream import Outcome, StreamResult
from harness.results.summary import SCHEMA
from harness.run.session import RunSession
from tests.builders import stream_result
from tests.gates.test_junit import check_junit_shape


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "LOCUST_BASELINE",
        "LOCUST_GATE_MIN_STREAMS",
        "LOCUST_GATE_ALPHA",
        "LOCUST_GATE_ALLOW_PARTIAL",
    ):
        monkeypatch.delenv(var, raising=False)


def parse(*args: str) -> Any:
    """Locust's full parser plus the gate options (no config files, no parser event)."""
    parser = get_empty_argument_parser(add_help=True, default_config_files=[])
    setup_parser_arguments(parser)  # type: ignore[no-untyped-call]
    add_gate_options(parser)
    return parser.parse_args(list(args))


SCENARIO = """
[[envs]]
name = "Production"
[[envs]]
name = "Test"

[[flows]]
name = "orders"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"

[[gates]]
expr = "ttfi.p95 < 800ms"
env = "Production"
abort_on_fail = true
delay_abort_s = 0.5
"""


def scenario(text: str = SCENARIO) -> Scenario:
    return loads_scenario(text, source=Path("scenario.toml"))


def stream(env: str, ttfi_s: float, outcome: Outcome = Outcome.OK) -> StreamResult:
    ok = outcome is Outcome.OK
    return stream_result(
        env,
        outcome=outcome,
        ttfi_s=ttfi_s,
        duration_s=1.0,
        status=None,
        ttfb_s=0.01 if ok else None,
        gaps_s=(0.01,) if ok else (),
        items=2 if ok else 0,
        bytes=100,
    )


def test_options_parse() -> None:
    parsed = parse("--gate", "error_rate < 1%", "--gate", "Test: ttfi.p95 < 1s")
    assert parsed.gate == ["error_rate < 1%", "Test: ttfi.p95 < 1s"]
    settings = gate_settings(parsed, scenario())
    assert [g.label for g in settings.gates] == [
        "Production: ttfi.p95 < 800ms",
        "error_rate < 1%",
        "Test: ttfi.p95 < 1s",
    ]
    assert settings.gates[0].abort_on_fail
    assert settings.min_streams == DEFAULT_MIN_STREAMS
    assert settings.baseline is None
    tuned = gate_settings(parse("--gate-min-streams", "0", "--gate-alpha", "0.01"), scenario())
    assert (tuned.min_streams, tuned.alpha) == (0, 0.01)


def test_a_gate_on_the_command_line_and_in_the_scenario_is_judged_once() -> None:
    # The same gate, written differently, plus a true duplicate on the command line.
    parsed = parse(
        "--gate", "Production: ttfi.p95<0.8s", "--gate", "error_rate < 1%",
        "--gate", "error_rate<1%",
    )  # fmt: skip
    settings = gate_settings(parsed, scenario())
    assert [g.label for g in settings.gates] == ["Production: ttfi.p95 < 800ms", "error_rate < 1%"]
    assert settings.gates[0].abort_on_fail  # the scenario's entry, with its abort settings
    assert settings.gates[0].delay_abort_s == 0.5


def test_a_duplicate_that_aborts_makes_the_kept_gate_abort() -> None:
    text = SCENARIO.replace("abort_on_fail = true", "abort_on_fail = false")
    text += '\n[[gates]]\nexpr = "ttfi.p95 < 0.8s"\nenv = "Production"\nabort_on_fail = true\n'
    text += "delay_abort_s = 2\n"
    (gate,) = gate_settings(parse(), scenario(text)).gates
    assert (gate.abort_on_fail, gate.delay_abort_s) == (True, 2.0)


def test_allow_partial_option() -> None:
    assert not gate_settings(parse(), scenario()).allow_partial
    assert gate_settings(parse("--gate-allow-partial"), scenario()).allow_partial


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--gate", "ttfi.p95 < fast"], "cannot read the value"),
        (["--gate", "Development: error_rate < 1%"], "env Development is not in the run"),
        (["--gate", "Test/chat: error_rate < 1%"], "no flow named 'chat'"),
        (["--gate", "ttfi.p95 <= baseline * 1.1"], "pass --baseline"),
        (["--gate-min-streams", "-1"], "--gate-min-streams"),
        (["--gate-min-streams", "many"], "--gate-min-streams"),
        (["--gate-alpha", "1.5"], "--gate-alpha"),
    ],
)
def test_bad_gates_fail_at_startup(args: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        gate_settings(parse(*args), scenario())


def test_a_bad_scenario_gate_names_the_file_and_entry() -> None:
    bad = scenario(SCENARIO.replace("ttfi.p95 < 800ms", "ttfi.p95 < 800 parsecs"))
    with pytest.raises(GateError, match=r"scenario\.toml: \[\[gates\]\] entry 1: .*parsecs"):
        gate_settings(parse(), bad)


def write_run(directory: Path, records: list[dict[str, Any]] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    summary = {"schema": SCHEMA, "run": {}, "overall": {}, "by_env": {}, "by_env_flow": []}
    (directory / "summary.json").write_bytes(orjson.dumps(summary))
    if records is not None:
        lines = b"".join(orjson.dumps(r) + b"\n" for r in records)
        (directory / "streams.jsonl").write_bytes(lines)
    return directory


def test_baseline_by_file_or_directory(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base")
    gate = "ttfi.p95 <= baseline * 1.1"
    by_dir = gate_settings(parse("--gate", gate, "--baseline", str(base)), scenario())
    by_file = gate_settings(parse("--baseline", str(base / "summary.json")), scenario())
    assert by_dir.baseline == by_file.baseline
    assert by_dir.baseline is not None
    assert by_dir.baseline["schema"] == SCHEMA
    with pytest.raises(ConfigError, match=r"nope\.json not found"):
        gate_settings(parse("--baseline", str(tmp_path / "nope.json")), scenario())


def test_significant_gates_need_the_baseline_records(tmp_path: Path) -> None:
    gate = ("--gate", "Production: ttfi.p95 <= baseline * 1.1 significant")
    bare = write_run(tmp_path / "bare")
    with pytest.raises(GateError, match=r"streams\.jsonl"):
        gate_settings(parse(*gate, "--baseline", str(bare)), scenario())
    full = write_run(tmp_path / "full", [{"env": "Production", "ttfi_ms": 1.0}])
    settings = gate_settings(parse(*gate, "--baseline", str(full)), scenario())
    assert settings.baseline_records == [{"env": "Production", "ttfi_ms": 1.0}]


def summary_with(results: list[StreamResult], elapsed_s: float = 10.0) -> dict[str, Any]:
    session = RunSession()
    for result in results:
        session.record(result)
    recorder = session.recorder
    return {
        "schema": SCHEMA,
        "run": {"duration_s": elapsed_s, "generator_saturated": False},
        "overall": recorder.overall(elapsed_s),
        "by_env": recorder.by_env(elapsed_s),
        "by_env_flow": recorder.by_env_flow(elapsed_s),
        "gates": [],
    }


def test_finish_gates_sets_verdicts_writes_junit_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = gate_settings(parse("--gate", "Test: ttfi.p95 < 100ms"), scenario())
    summary = summary_with(
        [stream("Production", 0.2) for _ in range(12)] + [stream("Test", 0.5) for _ in range(12)]
    )
    outcome = finish_gates(summary, settings, tmp_path)
    assert outcome is not None
    assert outcome.exit_code == EXIT_GATES_FAILED
    assert [v.status for v in outcome.verdicts] == ["passed", "failed"]
    assert summary["gates"] == [v.to_json() for v in outcome.verdicts]
    suite = check_junit_shape((tmp_path / "junit.xml").read_text(encoding="utf-8"))
    assert suite.get("failures") == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]  # summary.json: the caller's
    assert capsys.readouterr().out == ""  # printing is the caller's choice of moment
    print_gates(outcome)
    out = capsys.readouterr().out
    assert "✓ Production: ttfi.p95 < 800ms" in out
    assert "✗ Test: ttfi.p95 < 100ms" in out
    assert "exit code 4" in out


def test_finish_gates_without_gates_leaves_everything_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = summary_with([stream("Production", 0.2)])
    outcome = finish_gates(summary, GateSettings(), tmp_path)
    assert outcome is None
    print_gates(outcome)
    assert capsys.readouterr().out == ""
    assert summary["gates"] == []
    assert list(tmp_path.iterdir()) == []


def code_of(summary: dict[str, Any], settings: GateSettings, report: Path | None) -> int:
    outcome = finish_gates(summary, settings, report)
    assert outcome is not None
    return outcome.exit_code


def test_finish_gates_too_few_streams_is_inconclusive(tmp_path: Path) -> None:
    settings = gate_settings(parse(), scenario())
    summary = summary_with([stream("Production", 0.2) for _ in range(3)])
    assert code_of(summary, settings, tmp_path) == EXIT_INCONCLUSIVE
    relaxed = gate_settings(parse("--gate-min-streams", "3"), scenario())
    assert code_of(summary, relaxed, None) == EXIT_OK


class FakeRunner:
    """Stands in for Locust's runner: quit() stops the test like Locust's does."""

    def __init__(self, state: GlueState) -> None:
        self.state = state
        self.quit_at: float | None = None

    def quit(self) -> None:
        self.quit_at = time.perf_counter()
        self.state.test_running = False


class FakeEnvironment:
    def __init__(self, state: GlueState) -> None:
        self.runner = FakeRunner(state)


def running_state(results: list[StreamResult]) -> GlueState:
    state = GlueState(role=LOCAL, options=read_options(None), scenario=default_scenario())
    state.session = RunSession()
    for result in results:
        state.session.record(result)
    state.started_perf = time.perf_counter()
    state.test_running = True
    return state


def test_live_summary_matches_the_recorder() -> None:
    state = running_state([stream("Production", 0.2) for _ in range(5)])
    live = live_summary(state)
    assert live["overall"]["streams"] == 5
    assert set(live["by_env"]) == {"Production"}
    assert live["run"]["generator_saturated"] is False


def test_abort_watch_stops_a_failing_test_after_the_delay(tmp_path: Path) -> None:
    settings = gate_settings(parse(), scenario())  # the Production gate: abort after 0.5 s
    state = running_state([stream("Production", 2.0) for _ in range(20)])
    environment = FakeEnvironment(state)
    watch = start_abort_watch(environment, state, settings)
    assert watch is not None
    watch.join(timeout=5.0)
    assert watch.dead
    quit_at = environment.runner.quit_at
    assert quit_at is not None
    assert 0.5 <= quit_at - state.started_perf < 3.0
    assert settings.stopped is not None
    assert settings.stopped.gate is settings.gates[0]
    # At the end, the stopping gate is reported as such, whatever the final data says.
    summary = summary_with([stream("Production", 0.1) for _ in range(20)])
    assert code_of(summary, settings, tmp_path) == EXIT_GATES_FAILED
    verdict = summary["gates"][0]
    assert verdict["stopped_run"] is True
    assert verdict["status"] == "failed"
    assert "stopped it" in verdict["message"]


def wait_for_checks(settings: GateSettings, count: int, timeout_s: float = 10.0) -> None:
    """Until the watch has evaluated its gates ``count`` times (bounded: fails on timeout)."""
    deadline = time.perf_counter() + timeout_s
    while settings.abort_checks < count:
        assert time.perf_counter() < deadline, f"{settings.abort_checks} abort check(s) made"
        gevent.sleep(0.05)


def test_abort_watch_leaves_a_passing_test_running() -> None:
    settings = gate_settings(parse(), scenario())
    state = running_state([stream("Production", 0.2) for _ in range(20)])
    environment = FakeEnvironment(state)
    watch = start_abort_watch(environment, state, settings)
    assert watch is not None
    wait_for_checks(settings, 2)  # checked, after the delay, and found passing: twice
    assert environment.runner.quit_at is None
    state.test_running = False
    watch.join(timeout=3.0)
    assert watch.dead
    assert settings.stopped is None


def test_abort_watch_waits_for_enough_streams() -> None:
    settings = gate_settings(parse(), scenario())
    state = running_state([stream("Production", 2.0) for _ in range(DEFAULT_MIN_STREAMS - 1)])
    environment = FakeEnvironment(state)
    watch = start_abort_watch(environment, state, settings)
    assert watch is not None
    wait_for_checks(settings, 2)
    assert environment.runner.quit_at is None  # inconclusive, not failed: keep running
    state.test_running = False
    watch.join(timeout=3.0)


def test_no_abort_gate_no_watch() -> None:
    plain = scenario(SCENARIO.replace("abort_on_fail = true", "abort_on_fail = false"))
    settings = gate_settings(parse(), plain)
    state = running_state([])
    assert start_abort_watch(FakeEnvironment(state), state, settings) is None
    assert settings.gates[0].env is Env.PRODUCTION
