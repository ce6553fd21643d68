"""harness.cli.args: a bad command line is one line and exit 2; --help exits 0."""

from __future__ import annotations

import argparse

import pytest

from harness.cli.args import Parser, parse
from harness.cli.exitcodes import EXIT_USAGE


def parser() -> Parser:
    made = Parser(prog="flowload demo")
    made.add_argument("dir")
    made.add_argument("--count", type=int, default=1)
    return made


def test_good_arguments_parse() -> None:
    parsed = parse(parser(), ["reports/x", "--count", "3"])
    assert isinstance(parsed, argparse.Namespace)
    assert (parsed.dir, parsed.count) == ("reports/x", 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: dir"),
        (["x", "--count", "many"], "argument --count: invalid int value: 'many'"),
        (["x", "--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse(parser(), argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("flowload demo: ")
    assert message in err
    assert err.rstrip().endswith("(see flowload demo --help)")


def test_help_prints_usage_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse(parser(), ["--help"]) == 0
    assert "usage: flowload demo" in capsys.readouterr().out
