"""Tests of harness.cli: the ``flowload`` command's dispatch, help, version and errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.cli import COMMANDS, main
from harness.simulator import default_profile

ROOT = Path(__file__).resolve().parent.parent


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"flowload {harness.__version__}\n"
    assert err == ""


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
    assert "valid: simulate, report, compare, gate, capacity, version" in err


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
    bad = subprocess.run(
        [sys.executable, "-m", "harness.cli", "nope"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "unknown command 'nope'" in bad.stderr
