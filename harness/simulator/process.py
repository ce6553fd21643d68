"""Running the simulator: in-process or as a child process.

``build_server`` + ``SimulatorThread`` run it in this process; ``SimulatorProcess`` runs it as
a child (what the locustfile and end-to-end tests use).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import gevent

from harness.errors import FlowloadError
from harness.simulator.profiles import Profile, default_profile
from harness.simulator.server import SimulatorServer

LISTENING_PREFIX = "listening on "


class SimulatorError(FlowloadError):
    """The simulator could not be started or stopped."""


def build_server(
    profile: Profile | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int | None = None,
    limit_s: float | None = None,
    api_key: str | None = None,
    fault_rate: float | None = None,
    log_path: str | None = None,
    tls: tuple[str, str] | None = None,
    client_ca: str | None = None,
) -> SimulatorServer:
    """A configured, not yet started server. Arguments win over the profile's values."""
    prof = profile if profile is not None else default_profile()
    if api_key:
        prof = prof.with_api_key(api_key)
    if fault_rate is not None:
        prof = prof.with_fault_rate(fault_rate)
    return SimulatorServer(
        prof,
        host=host,
        port=port,
        seed=seed if seed is not None else (prof.seed or 0),
        limit_s=limit_s if limit_s is not None else (prof.limit_s or 300.0),
        log_path=log_path,
        tls=tls,
        client_ca=client_ca,
    )


class SimulatorThread:
    """A simulator in a background thread with its own gevent hub.

    For tests and tools that use blocking sockets in the main thread. A context manager;
    ``url`` is set once started.
    """

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="flowload-simulator", daemon=True)

    def _run(self) -> None:
        try:
            self.server.start()
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stopping.is_set():
            gevent.sleep(0.05)  # poll: a threading.Event cannot wake another thread's hub
        self.server.stop(timeout=0.5)

    def start(self) -> str:
        """Start and return the URL; re-raises a bind error."""
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise self._error
        return self.server.url

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return self.server.url

    def stop(self) -> None:
        """Stop the server and join the thread."""
        self._stopping.set()
        self._thread.join(5.0)

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


class SimulatorProcess:
    """The simulator as a child process: ``python -m harness.simulator --port 0 ...``.

    ``start()`` returns once the child printed its ``listening on`` line; ``url`` is then set.
    The API key travels in the child's environment (``FLOW_API_KEY``), never on its command line.
    """

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        api_key: str | None = None,
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.args = ["--port", "0", "--quiet", *(args or [])]
        self._api_key = api_key
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"SimulatorProcess(url={self.url!r}, args={self.args!r})"

    def start(self) -> str:
        """Start the child and wait for its port; raise SimulatorError if it does not come up."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_package_root(), env.get("PYTHONPATH")]))
        if self._api_key:
            env["FLOW_API_KEY"] = self._api_key
        # The child exits by itself if this process dies without stopping it (kill -9).
        env["FLOWLOAD_SIMULATOR_PARENT_PID"] = str(os.getpid())
        cmd = [sys.executable, "-m", "harness.simulator", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
        line = self._first_line()
        if not line.startswith(LISTENING_PREFIX):
            self.stop()
            raise SimulatorError(
                f"the simulator did not start (first line {line!r}); run "
                f"'python -m harness.simulator {' '.join(self.args)}' to see why"
            )
        self.url = line[len(LISTENING_PREFIX) :].strip()
        return self.url

    def _first_line(self) -> str:
        if self.proc is None or self.proc.stdout is None:
            return ""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(self.startup_timeout_s):
                return ""
        return self.proc.stdout.readline()

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Terminate the child, kill it after ``timeout_s``; return its exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
