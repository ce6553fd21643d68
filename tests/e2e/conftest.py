"""Helpers for end-to-end tests: run ``locust`` as a subprocess against a real simulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.simulator import SimulatorProcess

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "locustfiles" / "flow_stream.py"
E2E_KEY = "e2e-key-7c1f0a9d3b5e"  # unique, so leak checks can grep for it
FLOWS = {
    "orders-export": "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b",
    "chat-answer": "0b8e7d6c-5a4f-4321-9e8d-7c6b5a4f3e2d",
    "report-build": "a3d5f7b9-1c2e-4a6b-8d0f-2e4c6a8b0d1f",
}


def locust_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: this checkout importable, no inherited Locust settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("FLOW_API_KEY", None)
    env.update(extra or {})
    return env


def locust_command(*args: str, locustfile: Path = LOCUSTFILE) -> list[str]:
    """``python -m locust -f LOCUSTFILE ARGS``."""
    return [sys.executable, "-m", "locust", "-f", str(locustfile), *args]


def run_locust(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run locust to completion; output captured as text."""
    return subprocess.run(
        locust_command(*args),
        cwd=cwd,
        env=locust_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def load_json(path: Path) -> Any:
    """Parse a JSON file."""
    return orjson.loads(path.read_bytes())


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines file."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def free_port() -> int:
    """A loopback port the OS just had free (for servers that cannot take port 0 themselves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_closed(url: str) -> bool:
    """True when nothing accepts connections at the URL's host:port."""
    host, port = url.rsplit("//", 1)[1].split(":")
    try:
        with socket.create_connection((host, int(port.rstrip("/"))), timeout=1.0):
            return False
    except OSError:
        return True


HOG_CODE = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


@pytest.fixture
def cpu_hogs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """One CPU-bound process per CPU, for at most 120 s: a generator machine that is not idle."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", HOG_CODE.format(s=120)])
        for _ in range(len(os.sched_getaffinity(0)))
    ]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """A simulator child process with a request log at ``tmp_path/server.jsonl``."""
    log = tmp_path / "server.jsonl"
    sim = SimulatorProcess(["--log", str(log), "--limit", "30", "--seed", "7"], api_key=E2E_KEY)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def scenario_file(tmp_path: Path, url: str, flows_toml: str, extra: str = "") -> Path:
    """Write a scenario for the simulator at ``url`` with the given [[flows]] blocks."""
    path = tmp_path / "scenario.toml"
    path.write_text(
        f"""
[target]
url = "{url}"
tenant = "acme"
workspace = "sales"
api_key_env = "E2E_FLOW_KEY"
{extra}

[[envs]]
name = "Production"
weight = 1

[[envs]]
name = "Development"
weight = 1

{flows_toml}
""",
        encoding="utf-8",
    )
    return path


_E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e ``e2e``: ``pytest -m "not e2e"`` runs the fast rest."""
    for item in items:
        if _E2E_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)
