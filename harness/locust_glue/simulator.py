"""The embedded default: start the bundled simulator when the run names no server."""

from __future__ import annotations

import atexit
import logging

from harness.config import Scenario
from harness.secrets import ApiKey
from harness.simulator import SimulatorProcess

logger = logging.getLogger("flowload")


def start_embedded_simulator(scenario: Scenario, key: ApiKey | None) -> SimulatorProcess:
    """Start ``python -m harness.simulator`` on a free loopback port; stopped at exit too."""
    args = ["--limit", f"{scenario.limit_s:g}"]
    if scenario.simulator.profile is not None:
        args += ["--profile", str(scenario.simulator.profile)]
    if scenario.simulator.seed is not None:
        args += ["--seed", str(scenario.simulator.seed)]
    simulator = SimulatorProcess(args, api_key=key.reveal() if key else None)
    simulator.start()
    # Belt and braces: Locust's quit event stops it; atexit covers exits that skip the event.
    atexit.register(simulator.stop)
    logger.info(
        "flowload: no --host and no [target] given: started the bundled Flow simulator at %s "
        "(it stops when Locust quits)",
        simulator.url,
    )
    return simulator
