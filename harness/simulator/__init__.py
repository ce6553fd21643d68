"""A seeded, fault-injecting simulator of the Flow "Run streaming" API.

Apart from the measuring path: the harness starts it (``SimulatorProcess``) when there is no
real target, and tests drive it over real sockets.
"""

from __future__ import annotations

from harness.simulator.faults import Fault, FaultKind, parse_fault
from harness.simulator.process import (
    SimulatorError,
    SimulatorProcess,
    SimulatorThread,
    build_server,
)
from harness.simulator.profiles import Profile, default_profile, load_profile
from harness.simulator.send_log import OUTCOMES
from harness.simulator.server import SimulatorServer

__all__ = [
    "OUTCOMES",
    "Fault",
    "FaultKind",
    "Profile",
    "SimulatorError",
    "SimulatorProcess",
    "SimulatorServer",
    "SimulatorThread",
    "build_server",
    "default_profile",
    "load_profile",
    "parse_fault",
]
