"""``flowload`` and its subcommands: the entry points, the only code that turns errors into exits.

:mod:`~harness.cli.dispatch` picks the subcommand; each command is one module here
(:mod:`~harness.cli.report` for ``report`` and ``compare``, :mod:`~harness.cli.gate`,
:mod:`~harness.cli.capacity`, :mod:`~harness.cli.simulator`); :mod:`~harness.cli.exitcodes`
holds the exit codes and :mod:`~harness.cli.args` the argument handling they share.
"""

from __future__ import annotations

from harness.cli.dispatch import main

__all__ = ["main"]
