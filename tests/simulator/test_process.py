"""SimulatorProcess: the child simulator never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_STARTER = (
    "from harness.simulator import SimulatorProcess\n"
    "sim = SimulatorProcess()\n"
    "print(sim.start(), flush=True)\n"
    "import time; time.sleep(60)\n"
)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def test_simulator_exits_when_its_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(
        [sys.executable, "-c", _STARTER], stdout=subprocess.PIPE, text=True, env=env
    )
    assert parent.stdout is not None
    url = parent.stdout.readline().strip()
    port = int(url.rsplit(":", 1)[1])
    assert _accepts(port)
    os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its child
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _accepts(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _accepts(port), "the simulator outlived its parent"
