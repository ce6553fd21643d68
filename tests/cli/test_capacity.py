"""``flowload capacity``: argument errors, the scenario a run gets, the Locust command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.capacity.load_plan import LoadMode, load_plan
from harness.capacity.scenario_file import DEMO_ENVS, SCENARIO_FILE, demo_profile_path
from harness.cli.capacity import (
    LOCUSTFILES,
    PACKAGED_LOCUSTFILES,
    CapacityArgs,
    capacity_main,
    choose_scenario,
    locust_command,
    parse_args,
)
from harness.config import load_scenario

TARGET_SCENARIO = """\
[target]
url = "https://flow.example.com"
tenant = "acme"
workspace = "sales"

[[envs]]
name = "Test"

[[flows]]
name = "orders"
id = "9d3c6f1e-7a52-4c1b-9f0e-2b8d4a6c1e37"

[capacity]
mode = "stepped"
steps = [5, 10, 20]
"""


def _args(tmp_path: Path, *extra: str) -> CapacityArgs:
    return parse_args(["--report-dir", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--mode", "burst"], "invalid choice: 'burst'"),
        (["--workers", "0"], "expected a whole number >= 1, got 0"),
        (["--workers", "two"], "expected a whole number >= 1, got 'two'"),
        (["--stop-timeout", "-3"], "expected seconds >= 0"),
        (["--flow-config", "/nonexistent/scenario.toml"], "is not a file"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert capacity_main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_help_exits_0_and_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--flow-config", "--quick", "--report-dir", "--mode", "--host", "--workers"):
        assert option in out
    assert "bundled simulator" in out
    assert "exit codes" in out


def test_a_bad_scenario_exits_3_before_starting_locust(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[capacity]\nsteps = []\n", encoding="utf-8")
    code = capacity_main(["--flow-config", str(bad), "--report-dir", str(tmp_path / "run")])
    assert code == 3
    err = capsys.readouterr().err
    assert "give at least one step" in err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_no_config_runs_the_demo_against_the_capacity_profile(tmp_path: Path) -> None:
    args = _args(tmp_path, "--quick")
    choice = choose_scenario(args)
    assert choice.generated
    assert choice.path == args.report_dir / SCENARIO_FILE
    scenario = load_scenario(choice.path)
    assert scenario.target is None
    assert scenario.simulator.profile == demo_profile_path()
    assert demo_profile_path().name == "capacity_demo.toml"
    assert [(e.env.value, e.weight) for e in scenario.envs] == [(n, w) for n, w in DEMO_ENVS]
    quick = load_plan(scenario.capacity, quick=True)
    assert quick.mode is LoadMode.STEPPED
    assert len(quick.steps) >= 3
    assert quick.duration_s <= 150
    # The steps straddle Production's 8 slots in the demo profile.
    assert min(quick.steps) < 8 < max(quick.steps)
    full = load_plan(scenario.capacity)
    assert full.duration_s > quick.duration_s
    assert scenario.capacity.slo is not None
    assert scenario.capacity.slo["ttfi_p95_ms"] == 800


def test_demo_arrival_mode_has_an_in_flight_cap(tmp_path: Path) -> None:
    choice = choose_scenario(_args(tmp_path, "--mode", "arrival"))
    assert choice.path is not None
    plan = load_plan(load_scenario(choice.path).capacity, quick=True)
    assert plan.mode is LoadMode.ARRIVAL
    assert plan.max_in_flight < 1000
    assert len(plan.steps) >= 3


def test_a_config_with_a_target_is_used_as_is(tmp_path: Path) -> None:
    source = tmp_path / "target.toml"
    source.write_text(TARGET_SCENARIO, encoding="utf-8")
    args = _args(tmp_path, "--flow-config", str(source))
    choice = choose_scenario(args)
    assert choice.path == source
    assert not choice.generated
    assert not (args.report_dir / SCENARIO_FILE).exists()


def test_mode_option_writes_an_adapted_copy(tmp_path: Path) -> None:
    source = tmp_path / "target.toml"
    source.write_text(TARGET_SCENARIO, encoding="utf-8")
    choice = choose_scenario(_args(tmp_path, "--flow-config", str(source), "--mode", "arrival"))
    assert choice.generated
    assert choice.path is not None
    assert "capacity mode: arrival" in choice.reason
    copy = load_scenario(choice.path)
    assert copy.capacity.mode is LoadMode.ARRIVAL
    assert copy.capacity.steps == (5.0, 10.0, 20.0)
    assert copy.target is not None
    assert copy.target.target.base_url == "https://flow.example.com"


def test_config_without_target_gets_the_demo_profile_and_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "payloads").mkdir()
    (tmp_path / "payloads" / "in.json").write_text('{"a": 1}', encoding="utf-8")
    source = tmp_path / "local.toml"
    source.write_text(
        '[[flows]]\nname = "orders"\nid = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"\n'
        'body_file = "payloads/in.json"\ncontent_type = "application/json"\n',
        encoding="utf-8",
    )
    choice = choose_scenario(_args(tmp_path, "--flow-config", str(source)))
    assert choice.generated
    assert choice.path is not None
    assert choice.path.parent != source.parent
    copy = load_scenario(choice.path)  # body_file must still be found from the copy
    assert copy.simulator.profile == demo_profile_path()
    assert load_plan(copy.capacity).steps == (2.0, 4.0, 8.0, 12.0, 20.0)
    text = choice.path.read_text(encoding="utf-8")
    assert str((tmp_path / "payloads" / "in.json").resolve()) in text


def test_config_without_target_but_with_host_is_used_as_is(tmp_path: Path) -> None:
    source = tmp_path / "local.toml"
    source.write_text('[[envs]]\nname = "Test"\n', encoding="utf-8")
    choice = choose_scenario(
        _args(tmp_path, "--flow-config", str(source), "--host", "http://127.0.0.1:9")
    )
    assert choice.path == source


def test_locust_command_uses_the_packaged_locustfile_and_passes_options(tmp_path: Path) -> None:
    args = _args(
        tmp_path, "--quick", "--workers", "2", "--host", "http://127.0.0.1:9",
        "--", "--loglevel", "WARNING",
    )  # fmt: skip
    scenario = tmp_path / "s.toml"
    command = locust_command(args, scenario, LoadMode.ARRIVAL)
    assert command[:3] == [sys.executable, "-m", "locust"]
    locustfile = Path(command[command.index("-f") + 1])
    assert locustfile.name == LOCUSTFILES[LoadMode.ARRIVAL]
    assert locustfile.is_file()
    assert locustfile.parent == PACKAGED_LOCUSTFILES  # inside the package, not the checkout's
    assert "--headless" in command
    assert command[command.index("--flow-config") + 1] == str(scenario)
    assert command[command.index("--report-dir") + 1] == str(args.report_dir)
    assert "--capacity-quick" in command
    assert command[command.index("--processes") + 1] == "2"
    assert command[command.index("--host") + 1] == "http://127.0.0.1:9"
    assert command[command.index("--stop-timeout") + 1] == "15"
    assert command[-2:] == ["--loglevel", "WARNING"]


def test_packaged_locustfiles_exist_for_every_mode() -> None:
    for mode, name in LOCUSTFILES.items():
        text = (PACKAGED_LOCUSTFILES / name).read_text(encoding="utf-8")
        assert "install()" in text
        user = "SteppedFlowUser" if mode is LoadMode.STEPPED else "ArrivalFlowUser"
        assert user in text


def test_default_report_dir_is_fresh_under_reports() -> None:
    first, second = parse_args([]).report_dir, parse_args([]).report_dir
    assert first.parent == Path("reports")
    assert first != second


def test_a_file_with_a_literal_key_is_refused_and_never_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "literal-key-5e1f0c2b"  # noqa: S105 - a fake key to check it never leaks
    source = tmp_path / "leaky.toml"
    source.write_text(f'[[envs]]\nname = "Test"\napi_key = "{secret}"\n', encoding="utf-8")
    report = tmp_path / "run"
    assert capacity_main(["--flow-config", str(source), "--report-dir", str(report)]) == 3
    captured = capsys.readouterr()
    assert "literal API key is not allowed" in captured.err
    assert secret not in captured.out + captured.err
    assert not (report / SCENARIO_FILE).exists()
