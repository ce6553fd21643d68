"""Fail-fast in a Locust run: stop, exit 3, when the first streams show it cannot succeed."""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust.stats import CSV_STATS_INTERVAL_SEC

from harness.cli.exitcodes import EXIT_COULD_NOT_RUN
from harness.locust_glue.state import WORKER, GlueState

logger = logging.getLogger("flowload")


def stop_locust(environment: Any) -> None:
    """Stop Locust the way --run-time does (and the web UI with it).

    With ``--csv`` the users stop first, then Locust's CSV writer gets one more turn before the
    quit: it writes once a second and not at exit, so a run stopped within its first second
    would leave CSV files without the very failures that stopped it.
    """
    options = getattr(environment, "parsed_options", None)
    if getattr(options, "csv_prefix", None):
        environment.runner.stop()
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)
    environment.runner.quit()
    if environment.web_ui is not None:
        environment.web_ui.stop()


def stop_misconfigured_run(environment: Any, state: GlueState, message: str) -> None:
    """The run cannot succeed: say why once, stop it, exit 3 (the summary is still written)."""
    logger.error("flowload: %s", message)
    state.setup_failed = message
    environment.process_exit_code = EXIT_COULD_NOT_RUN
    gevent.spawn(stop_locust, environment)  # not from the caller: it may be a user greenlet


def observe_failure(environment: Any, state: GlueState, record: dict[str, Any]) -> None:
    """Feed one stream record to fail-fast (unless --no-fail-fast); stop when it trips.

    The single process and the master judge (the master on its workers' merged records).
    """
    if state.role == WORKER or not state.options.fail_fast:
        return
    cause, error = record.get("cause"), record.get("error")
    message = state.fail_fast.observe(
        str(record.get("env")), str(record.get("flow")), cause and str(cause), error and str(error)
    )
    if message is not None:
        stop_misconfigured_run(environment, state, message)
