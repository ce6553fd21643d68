"""Twin simulators: the same profile and seed, served from one process and one event loop.

``python -m tests.twin_simulators PROFILE SEED COUNT`` starts COUNT simulators (real
:class:`~harness.simulator.SimulatorServer` instances) in one gevent hub and prints one
``listening on URL`` line each. Sent the same runs, twins draw the same streams (same seed, same
stream numbers), and since they share a thread, a moment when the machine is busy delays them
alike: runs made against twins side by side differ only by what the measurement adds.
:class:`TwinSimulators` starts them as a child process (stopped on exit, never orphaned).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import gevent
from gevent.event import Event

from harness.simulator import build_server, load_profile

LISTENING = "listening on "
REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Serve the twins until SIGTERM or the parent process is gone."""
    profile, seed, count = load_profile(argv[0]), int(argv[1]), int(argv[2])
    servers = [build_server(profile, seed=seed) for _ in range(count)]
    for server in servers:
        server.start()
        sys.stdout.write(f"{LISTENING}{server.url}\n")
    sys.stdout.flush()
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            gevent.sleep(0.5)
        stop.set()

    gevent.spawn(watch_parent)
    stop.wait()
    for server in servers:
        server.stop(timeout=1.0)
    return 0


class TwinSimulators:
    """``count`` twin simulators in a child process; ``urls`` once started."""

    def __init__(self, profile: Path, *, seed: int, count: int) -> None:
        self.args = [str(profile), str(seed), str(count)]
        self.count = count
        self.urls: list[str] = []
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> TwinSimulators:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
               os.environ.get("PYTHONPATH")]))}  # fmt: skip
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.twin_simulators", *self.args],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            assert sel.select(20.0), "the twin simulators did not start within 20 s"
        # Every line is flushed at once: the rest is there (or the child died: "").
        for _ in range(self.count):
            line = self._proc.stdout.readline()
            assert line.startswith(LISTENING), line
            self.urls.append(line[len(LISTENING) :].strip())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc = self._proc
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
