"""The glue's per-process state, attached to Locust's Environment."""

from __future__ import annotations

import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.gates import GateSettings
from harness.run.failfast import FailFast
from harness.run.health import HealthMonitor, HealthSamples

if TYPE_CHECKING:
    from harness.capacity.load_plan import LoadPlan
    from harness.config import Scenario
    from harness.locust_glue.options import GlueOptions
    from harness.run.resolve import ResolvedRun
    from harness.run.session import RunSession
    from harness.simulator import SimulatorProcess

LOCAL, MASTER, WORKER = "local", "master", "worker"


@dataclass
class WorkerView:
    """What the master knows of one worker."""

    health: HealthSamples = field(default_factory=HealthSamples)
    clock_note: str | None = None  # why it used user-space times, when it did
    last_report: float = 0.0  # perf_counter of its last report
    running: bool = False  # was its test running at its last report


@dataclass
class GlueState:
    """One process's flowload state across tests (a web UI run may start several)."""

    role: str
    options: GlueOptions
    scenario: Scenario
    simulator: SimulatorProcess | None = None
    resolved: ResolvedRun | None = None
    session: RunSession | None = None
    report_dir: Path | None = None
    health: HealthMonitor = field(default_factory=HealthMonitor)
    workers: dict[str, WorkerView] = field(default_factory=dict)
    cancelled_delta: Counter[tuple[str, str]] = field(default_factory=Counter)
    started_perf: float = 0.0
    started_wall: float = 0.0  # epoch seconds of the test start (a timestamp)
    plan: LoadPlan | None = None  # capacity runs only
    processes: int = 1  # load-generating processes sharing an arrival rate
    stopped_perf: float | None = None
    test_running: bool = False
    finalized: bool = True
    max_users: int = 0
    setup_failed: str | None = None
    interrupted: bool = False  # Ctrl-C: the test was stopped before its planned end
    gates: GateSettings = field(default_factory=GateSettings)
    finalizer: Any = None  # the master's background finalize greenlet
    fail_fast: FailFast = field(default_factory=FailFast)
    clock: str = "user"  # the clock this process's item times use (kernel or user)
    clock_note: str | None = None  # why not kernel stamps, when not
    own_stop_timeout: bool = False  # flowload set the stop timeout (no --stop-timeout given)

    def elapsed_s(self) -> float:
        """Seconds the current (or last) test ran."""
        end = self.stopped_perf if self.stopped_perf is not None else time.perf_counter()
        return max(0.0, end - self.started_perf)


_STATES: weakref.WeakKeyDictionary[Any, GlueState] = weakref.WeakKeyDictionary()


def attach(environment: Any, state: GlueState) -> None:
    """Remember ``state`` as the state of ``environment``."""
    _STATES[environment] = state


def state_of(environment: Any) -> GlueState | None:
    """The state of ``environment``, if flowload was initialised for it."""
    return _STATES.get(environment)
