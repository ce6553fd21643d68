"""Real runs without Locust: streams sent by the harness library to a real simulator.

:func:`record_runs` makes runs that each send a fixed number of streams (the plan's weighted
round robin, so every run sends the same (env, flow) mix) from greenlets with their own
:class:`~harness.transport.HttpClient`, measures them with
:func:`~harness.run.measure.measure_stream`, records them with a
:class:`~harness.run.session.RunSession` and writes ``streams.jsonl`` and ``summary.json`` as a
run does.

The simulator draws each stream's timings from its seed and the stream's number within its
(env, flow); two simulators started with the same seed and sent the same runs in the same order
draw the same streams: their runs differ only by what the measurement and the machine add.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path

import gevent
from gevent.pool import Pool

from harness.config import loads_scenario
from harness.results.paths import STREAMS_FILE, SUMMARY_FILE
from harness.results.stream import StreamResult
from harness.results.summary import RunInfo, build_summary, write_summary
from harness.run.measure import measure_stream
from harness.run.request_mix import StreamTarget
from harness.run.resolve import ResolvedRun, resolve_run
from harness.run.session import RunSession
from harness.transport import HttpClient

# Short streams with random timings (the A/A runs) and the same with TTFI doubled (the A/B run).
PROFILE = """
[envs.Production]
speed = 1.0
slots = 200
queue = 400

[envs.Development]
speed = 1.2
slots = 200
queue = 400

[[flows]]
name = "orders"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"
ttfi_ms = {{ dist = "lognormal", median = {ttfi}, sigma = 0.4, min = 20, max = 1000 }}
gap_ms = {{ dist = "uniform", low = 5, high = 20 }}
items = {{ dist = "uniform", low = 2, high = 6 }}
item_bytes = {{ dist = "uniform", low = 60, high = 300 }}

[[flows]]
name = "chat"
id = "0b8e7d6c-5a4f-4321-9e8d-7c6b5a4f3e2d"
ttfi_ms = {{ dist = "normal", mean = {ttfi_chat}, stddev = {ttfi_chat_sd}, min = 20, max = 1000 }}
gap_ms = {{ dist = "lognormal", median = 10, sigma = 0.5, min = 3, max = 60 }}
items = {{ dist = "uniform", low = 2, high = 6 }}
item_bytes = 120
"""

SCENARIO = """
[[envs]]
name = "Production"

[[envs]]
name = "Development"

[[flows]]
name = "orders"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"

[[flows]]
name = "chat"
id = "0b8e7d6c-5a4f-4321-9e8d-7c6b5a4f3e2d"
"""


def profile(ttfi_factor: float = 1.0) -> str:
    """The simulator profile, with every TTFI multiplied by ``ttfi_factor``."""
    return PROFILE.format(
        ttfi=60 * ttfi_factor, ttfi_chat=80 * ttfi_factor, ttfi_chat_sd=20 * ttfi_factor
    )


def resolve(url: str) -> ResolvedRun:
    """The plan of a run against the simulator at ``url`` (a loopback host: simulator-like)."""
    return resolve_run(loads_scenario(SCENARIO), url)


def record_runs(
    plans: Sequence[tuple[ResolvedRun, Path]],
    *,
    streams: int,
    users: int,
    spread_s: float = 0.2,
) -> list[Path]:
    """Make one run per ``(plan, directory)``, all at the same time; return the directories.

    Each run sends ``streams`` streams from ``users`` users of its own; the users of all runs
    start interleaved, evenly over ``spread_s`` (a burst of connects at one instant would
    measure the load generator's start-up, not the server).
    """
    runs = [_Run(resolved, directory, streams, users) for resolved, directory in plans]
    pool = Pool(users * len(runs))
    started = time.perf_counter()
    for i in range(users * len(runs)):
        pool.spawn(runs[i % len(runs)].user, i * spread_s / (users * len(runs)))
    with gevent.Timeout(120):  # bounded: a run that hangs fails the test instead
        pool.join(raise_error=True)
    elapsed = time.perf_counter() - started
    return [run.finish(elapsed) for run in runs]


class _Run:
    """One run in the making: its plan, its directory, what it recorded."""

    def __init__(self, resolved: ResolvedRun, directory: Path, streams: int, users: int) -> None:
        self.resolved = resolved
        self.directory = directory
        self.users = users
        self.session = RunSession()
        self.session.open_records(directory)
        self.targets = iter(resolved.plan.order(streams))

    def user(self, delay: float) -> None:
        """After ``delay``, take the run's next stream until none is left."""
        gevent.sleep(delay)
        client = HttpClient(self.resolved.transport)
        try:
            for target in self.targets:  # shared: each stream is taken by one user
                self.session.record(_measure(client, self.resolved, target))
        finally:
            client.close()

    def finish(self, elapsed: float) -> Path:
        """Close the records and write summary.json."""
        session = self.session
        session.close()
        info = RunInfo(
            started=session.started,
            ended=session.started + dt.timedelta(seconds=elapsed),
            duration_s=elapsed,
            host=self.resolved.host,
            users=self.users,
            workers=0,
            locust_version="-",
            harness_version="-",
            limit_s=self.resolved.limits.limit_s,
        )
        write_summary(self.directory / SUMMARY_FILE, build_summary(info, session.recorder))
        assert (self.directory / STREAMS_FILE).is_file()
        return self.directory


def _measure(client: HttpClient, resolved: ResolvedRun, target: StreamTarget) -> StreamResult:
    return measure_stream(
        client,
        target.request,
        env=target.env.value,
        flow=target.flow.name,
        limits=resolved.limits,
        make_reader=target.new_reader,
    )
