"""Helpers for web UI tests: a ``locust`` process serving its web UI, and its endpoints."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.conftest import free_port, locust_command, locust_env


@dataclass
class WebLocust:
    """A running ``locust`` with its web UI at ``base``; ``returncode``/``stdout``/``stderr``
    are set once it has exited."""

    base: str
    process: subprocess.Popen[str]
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    log: list[str] = field(default_factory=list)

    def get(self, path: str) -> bytes:
        """GET ``path`` (loopback only)."""
        with urllib.request.urlopen(self.base + path, timeout=10) as response:  # noqa: S310
            return bytes(response.read())

    def json(self, path: str) -> Any:
        """GET ``path`` and parse its JSON."""
        return orjson.loads(self.get(path))

    def post(self, path: str, form: dict[str, str] | None = None) -> Any:
        """POST a form to ``path``; the reply's JSON (or text when it is not JSON)."""
        data = urllib.parse.urlencode(form or {}).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = bytes(response.read())
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body.decode()

    def streaming_rows(self) -> list[dict[str, Any]]:
        """The Streaming tab's table rows, as Locust's page polls them."""
        stats = self.json("/stats/requests")
        tabs = {t["key"]: t["data"] for t in stats.get("extended_stats", [])}
        return list(tabs.get("flowload-streaming", []))

    def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                value = check()
            except OSError:
                value = None
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def stop_process(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60) -> int:
        """Signal locust to shut down; wait for it; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.stdout, self.stderr = self.process.communicate(timeout=timeout_s)
        self.returncode = self.process.returncode
        return self.returncode


@contextmanager
def web_locust(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[WebLocust]:
    """Start ``locust -f locustfiles/flow_stream.py ARGS`` with its web UI on a free port."""
    port = free_port()
    command = locust_command("--web-host", "127.0.0.1", "--web-port", str(port), *args)
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=locust_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    web = WebLocust(f"http://127.0.0.1:{port}", process)
    try:
        web.wait_for("the web UI", lambda: process.poll() is None and web.get("/"))
        yield web
    finally:
        if web.returncode is None:
            web.stop_process()


def wait_until_stopped(web: WebLocust, timeout_s: float = 60.0) -> dict[str, Any]:
    """Wait until the test has stopped and its report is written; the live view then."""
    live: dict[str, Any] = web.wait_for(
        "the test to end with its report",
        lambda: (data := web.json("/flowload/live.json"))["report"] and data,
        timeout_s,
    )
    return live
