"""The report of a real short run, rendered in headless Chromium.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: requests on
fd 3, replies and events on fd 4, NUL-separated JSON), so no WebDriver, websocket library or
chromedriver is needed. Checks: no console error or exception, no network request other than
the report file itself, every plot present as an SVG; a screenshot is saved under tmp_path.

Also a tool: ``python -m tests.e2e.test_report_browser REPORT.html OUT.png`` saves a screenshot
(how docs/report.png is made; see docs/reports.md).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cli.report import compare_main, report_main
from harness.report.run.plots import PLOT_KEYS
from tests.e2e.conftest import run_locust

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
    "--disable-gpu",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)
PAGE_WIDTH = 1280
FIGURES_JS = (
    "JSON.stringify([...document.querySelectorAll('figure[data-plot]')]"
    ".map(f => [f.dataset.plot, f.querySelector('svg') !== null]))"
)


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


_EXEC_ON_FDS_3_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execvp(sys.argv[3], sys.argv[3:])"
)


def _high_fd(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """A headless Chromium child process and its DevTools pipe (one page session)."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium wants the pipe on fds 3 and 4 exactly. A tiny exec wrapper puts it there; the
        # ends are first moved above 9 so that filling fd 3 cannot clobber the source of fd 4.
        to_chrome_r, from_chrome_w = _high_fd(to_chrome_r), _high_fd(from_chrome_w)
        args = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _EXEC_ON_FDS_3_4, str(to_chrome_r), str(from_chrome_w), *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _pump(self, deadline: float) -> None:
        remaining = deadline - time.perf_counter()
        ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, remaining))
        if not ready:
            raise TimeoutError("Chromium did not answer in time")
        chunk = os.read(self._from_chrome, 1 << 20)
        if not chunk:
            raise EOFError("Chromium closed the DevTools pipe")
        *messages, self._buffer = (self._buffer + chunk).split(b"\0")
        for raw in messages:
            message = json.loads(raw)
            if "id" in message:
                self._replies[message["id"]] = message
            else:
                self.events.append(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 30.0
    ) -> Any:
        """Send a command (to the page session once attached) and return its result."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.perf_counter() + timeout_s
        while ident not in self._replies:
            self._pump(deadline)
        reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, event: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait for the first event named ``event``."""
        deadline = time.perf_counter() + timeout_s
        while True:
            for seen in self.events:
                if seen["method"] == event:
                    return seen
            self._pump(deadline)

    def open_page(self) -> None:
        """Create a page, attach to it, and turn on the event domains the checks read."""
        target = self.call("Target.createTarget", {"url": "about:blank"})
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")

    def load(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int | None = None) -> None:
        """A PNG of the whole page (or its top ``max_height`` pixels) at ``PAGE_WIDTH``."""
        self._viewport(800)
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self._viewport(min(height, max_height) if max_height else height)
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    def _viewport(self, height: int) -> None:
        metrics = {"width": PAGE_WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)

    def problems(self, page_url: str) -> list[str]:
        """Console errors, uncaught exceptions, error log entries and requests for other URLs."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(f"log error: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                if url != page_url:
                    found.append(f"network request: {url}")
        return found

    def close(self) -> None:
        """Ask Chromium to quit; kill it if it does not."""
        try:
            self.call("Browser.close", timeout_s=5.0)
            self.process.wait(timeout=10)
        except (TimeoutError, EOFError, RuntimeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_chrome)
            os.close(self._from_chrome)


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    """A headless Chromium with a fresh profile; skips (only) when Chromium is not installed."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "chromium is not installed (Debian: apt-get install -y chromium chromium-driver)"
        )
    chrome = Browser(executable, tmp_path / "chromium-profile")
    try:
        chrome.open_page()
        yield chrome
    finally:
        chrome.close()


def check_print_layout(browser: Browser, pdf: Path) -> None:
    """Printed, the navigation is hidden and figures do not split across pages; it makes a PDF."""
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    assert browser.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    inside = browser.evaluate("getComputedStyle(document.querySelector('figure')).breakInside")
    assert inside == "avoid"
    printed = browser.call("Page.printToPDF", {"printBackground": True})
    data = base64.b64decode(printed["data"])
    pdf.write_bytes(data)
    assert data.startswith(b"%PDF")
    browser.call("Emulation.setEmulatedMedia", {"media": ""})


def test_report_of_a_real_run_renders_cleanly_in_chromium(tmp_path: Path, browser: Browser) -> None:
    report = tmp_path / "report"
    proc = run_locust(["--headless", "-u", "5", "-r", "5", "-t", "5s", "--report-dir", str(report)],
                      cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert report_main([str(report)]) == 0
    page = (report / "report.html").resolve()
    url = page.as_uri()
    browser.load(url)
    assert browser.problems(url) == []
    figures = json.loads(browser.evaluate(FIGURES_JS))
    assert figures == [[key, True] for key in PLOT_KEYS]
    assert browser.evaluate("document.title") == "flowload report"
    shot = tmp_path / "report.png"
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a blank page would be a few kB
    check_print_layout(browser, tmp_path / "report.pdf")

    assert compare_main([str(report), str(report), "--out", str(tmp_path / "cmp")]) == 0
    cmp_url = (tmp_path / "cmp" / "comparison.html").resolve().as_uri()
    browser.load(cmp_url)
    assert browser.problems(cmp_url) == []
    assert json.loads(browser.evaluate(FIGURES_JS)) == [["ttfi", True], ["duration", True]]
    browser.screenshot(tmp_path / "comparison.png")


def test_the_checks_catch_console_errors_and_requests(tmp_path: Path, browser: Browser) -> None:
    # The negative control: a page that logs an error, throws and fetches must be reported.
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom'); throw new Error('oops');</script></body></html>",
        encoding="utf-8",
    )
    url = bad.resolve().as_uri()
    browser.load(url)
    found = "\n".join(browser.problems(url))
    assert "console.error" in found
    assert "exception" in found
    assert "network request: http://127.0.0.1:9/x.png" in found


def main(argv: list[str]) -> int:
    """``python -m tests.e2e.test_report_browser REPORT.html OUT.png [MAX_HEIGHT]``."""
    if len(argv) not in (2, 3):
        sys.stderr.write(
            "usage: python -m tests.e2e.test_report_browser REPORT.html OUT.png [MAX_HEIGHT]\n"
        )
        return 2
    executable = find_chromium()
    if executable is None:
        sys.stderr.write("chromium is not installed (apt-get install -y chromium)\n")
        return 2
    with tempfile.TemporaryDirectory() as profile:
        chrome = Browser(executable, Path(profile))
        try:
            chrome.open_page()
            url = Path(argv[0]).resolve().as_uri()
            chrome.load(url)
            problems = chrome.problems(url)
            chrome.screenshot(Path(argv[1]), int(argv[2]) if len(argv) == 3 else None)
        finally:
            chrome.close()
    for problem in problems:
        sys.stderr.write(f"problem: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
