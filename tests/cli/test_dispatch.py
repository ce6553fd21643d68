"""Tests of harness.cli: the ``flowload`` command's dispatch, help, version and errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from locust.argument_parser import get_empty_argument_parser

import harness
from harness.cli.dispatch import COMMANDS, main
from harness.locust_glue.gating import add_gate_options
from harness.locust_glue.options import add_options
from harness.simulator import default_profile

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"flowload {harness.__version__}\n"
    assert err == ""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag_prints_the_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    assert capsys.readouterr().out == f"flowload {harness.__version__}\n"


def _glue_options() -> list[str]:
    """Every option string the Locust glue adds (what ``locust -f ... `` accepts)."""
    parser = get_empty_argument_parser(add_help=False)
    before = {s for a in parser._actions for s in a.option_strings}
    add_options(parser)
    add_gate_options(parser)
    added = [s for a in parser._actions for s in a.option_strings if s not in before]
    hidden = {s for a in parser._actions if a.help == "==SUPPRESS==" for s in a.option_strings}
    return [s for s in added if s not in hidden]


def test_options_lists_every_flowload_option_and_those_the_readme_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["options"]) == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"^  (--[a-z-]+)", out, flags=re.MULTILINE))
    assert listed == set(_glue_options())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Options", 1)[1].split("\n### ", 1)[0]
    in_table = set(re.findall(r"^\| `(--[a-z-]+)", section, flags=re.MULTILINE))
    assert in_table
    assert in_table <= listed
    assert "flowload options" in section


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_and_lists_the_commands(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowload COMMAND")
    for command in COMMANDS:
        assert f"\n  {command} " in out
    assert "locust -f locustfiles/flow_stream.py" in out


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().out


def test_unknown_command_exits_2_with_the_valid_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simualte", "--list"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "unknown command 'simualte'" in err
    assert "valid: simulate, report, compare, gate, capacity, options, version" in err


def test_simulate_list_prints_the_built_in_flows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    flows = list(default_profile().flows.values())
    assert len(lines) == 1 + len(flows)  # a header, then one line per flow
    for line, flow in zip(lines[1:], flows, strict=True):
        assert line.split()[:3] == [flow.id, flow.name, flow.format]


def test_simulate_passes_its_arguments_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    assert main(["simulate", "--profile", str(missing), "--list"]) == 2
    err = capsys.readouterr().err
    assert "flowload simulate: error:" in err
    assert "missing.toml" in err


def test_module_entry_point_exits_with_mains_code() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "-m", "harness.cli", "version"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert (ok.returncode, ok.stdout) == (0, f"flowload {harness.__version__}\n")
    flag = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--version"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert (flag.returncode, flag.stdout) == (0, f"flowload {harness.__version__}\n")
    bad = subprocess.run(
        [sys.executable, "-m", "harness.cli", "nope"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "unknown command 'nope'" in bad.stderr
