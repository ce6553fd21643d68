"""Argument handling every subcommand shares: a bad command line is one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness.cli.exitcodes import EXIT_USAGE


class UsageError(Exception):
    """argparse found a bad command line (reported as one line, exit 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise the one-line error (argparse's default prints the usage block and exits)."""
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code to return (2 after a usage error, 0 after --help)."""
    try:
        return parser.parse_args(list(argv))
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help: argparse printed it and wants to exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else 0
