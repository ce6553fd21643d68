"""Locust's web UI with flowload, driven in headless Chromium: the start form, the Streaming tab.

The browser is the DevTools-pipe driver of :mod:`tests.e2e.test_report_browser`. Screenshots are
saved under each test's tmp_path (``streaming.png``, ``streaming-ended.png``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2E_KEY, scenario_file
from tests.e2e.test_report_browser import Browser, find_chromium
from tests.e2e.webui_helpers import WebLocust, web_locust
from tests.servers import ScriptedServer, chunked, json_array_parts

FLOW = """
[[flows]]
name = "orders"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"
"""
FORM_FIELDS_JS = (
    "JSON.stringify(Object.fromEntries([...document.querySelectorAll('form input, form select')]"
    ".map(e => [e.name, e.value])))"
)
START_JS = "document.querySelector('form button[type=submit]').click(), true"
RESET_JS = (
    "[...document.querySelectorAll('header button')]"
    ".find(b => b.textContent.trim().toLowerCase() === 'reset').click(), true"
)
ALERTS_JS = "JSON.stringify([...document.querySelectorAll('[role=alert]')].map(e => e.textContent))"
CLEAR_HOST_JS = """(() => {
  const host = document.querySelector('form input[name=host]');
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(host, '');
  host.dispatchEvent(new Event('input', {bubbles: true}));
  return host.value;
})()"""
PANEL_JS = """JSON.stringify((() => {
  const panel = document.querySelector('#flowload-live');
  if (!panel || panel.style.display === 'none') return null;
  const charts = [...panel.querySelectorAll('figure[data-chart]')].map(f => [
    f.dataset.chart,
    [...new Set([...f.querySelectorAll('polyline[data-env]')].map(p => p.dataset.env))].sort(),
    Math.max(0, ...[...f.querySelectorAll('polyline')].map(p => p.getAttribute('points')
      .split(' ').length)),
  ]);
  const cards = [...panel.querySelectorAll('.fl-card')].map(c => [c.dataset.env,
    Object.fromEntries([...c.querySelectorAll('dd')].map(d => [d.dataset.metric, d.textContent]))]);
  const link = panel.querySelector('a[href="/flowload/report"]');
  const error = panel.querySelector('.fl-error');
  return {charts, cards, report: link ? link.textContent : null,
          error: error ? error.textContent : null,
          tableBelow: !!panel.nextElementSibling?.querySelector('table')};
})())"""
ENVS = ["Development", "Production", "Test"]
CHART_KEYS = ["ttfi_p95_ms", "itl_p99_ms", "in_flight", "streams_per_s", "items_per_s"]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile; skips (only) when Chromium is not installed."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    browser = Browser(executable, tmp_path / "chromium-profile")
    try:
        browser.open_page()
        yield browser
    finally:
        browser.close()


def off_site_requests(browser: Browser, base: str) -> list[str]:
    """Console errors, exceptions, and requests that leave the web UI (a CDN, say)."""
    return [
        problem
        for problem in browser.problems(base + "/")
        if not problem.startswith((f"network request: {base}/", "network request: data:"))
    ]


def panel(browser: Browser) -> dict[str, Any] | None:
    found: dict[str, Any] | None = json.loads(browser.evaluate(PANEL_JS))
    return found


def wait_in_page(browser: Browser, what: str, check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} in the page")


def test_the_form_starts_from_the_scenario_and_a_start_keeps_query_auth(
    tmp_path: Path, chromium: Browser
) -> None:
    stream = chunked(json_array_parts([b"1", b"2", b"3"], 0.05))
    with ScriptedServer(lambda _request: stream) as server:
        extra = 'auth = "query"\nlimit_s = 40\nstall_timeout_s = 20'
        scenario = scenario_file(tmp_path, server.url().rstrip("/"), FLOW, extra)
        args = ["--flow-config", str(scenario), "--report-dir", str(tmp_path / "r")]
        with web_locust(tmp_path, *args, env={"E2E_FLOW_KEY": E2E_KEY}) as web:
            chromium.load(web.base + "/")
            fields = json.loads(chromium.evaluate(FORM_FIELDS_JS))
            assert chromium.evaluate(START_JS)
            web.wait_for("5 streams", lambda: len(server.requests) >= 5)
            web.post("/stop")
            web.stop_process()
        requests = server.requests
    assert fields["apiKeyMode"] == "query"
    assert fields["flowEnv"] == "Production,Development"
    assert (fields["limit"], fields["stallTimeout"], fields["flowSpawnSpread"]) == ("40", "20", "1")
    assert requests
    for request in requests:
        assert f"api_key={E2E_KEY}" in request.target
        assert "x-api-key" not in request.headers
    assert web.returncode == 0, web.stderr[-3000:]


def _wait_for_points(web: WebLocust, count: int) -> None:
    web.wait_for(f"{count} samples", lambda: len(web.json("/flowload/live.json")["t"]) >= count)


def test_the_streaming_tab_draws_live_charts_resets_and_links_the_report(
    tmp_path: Path, chromium: Browser
) -> None:
    args = ["--autostart", "-u", "6", "-r", "6", "-t", "16s", "--autoquit", "60"]
    args += ["--report-dir", str(tmp_path / "r"), "--stop-timeout", "0"]
    with web_locust(tmp_path, *args) as web:
        _wait_for_points(web, 4)
        chromium.load(web.base + "/?tab=flowload-streaming")
        live = wait_in_page(chromium, "the charts", lambda: panel(chromium))
        chromium.screenshot(tmp_path / "streaming.png", 1400)
        assert [key for key, _envs, _n in live["charts"]] == CHART_KEYS
        for key, envs, points in live["charts"]:
            assert envs == ENVS, key
            assert points >= 3, key
        assert sorted(env for env, _ in live["cards"]) == ENVS
        for _env, values in live["cards"]:
            assert set(values) == set(CHART_KEYS)
            assert values["ttfi_p95_ms"].endswith(" ms")
        assert live["tableBelow"]  # Locust's own table of the tab stays, below the charts
        assert live["report"] is None
        assert chromium.evaluate(RESET_JS)
        reset = wait_in_page(
            chromium,
            "the charts to restart",
            lambda: (p := panel(chromium)) and max(n for *_, n in p["charts"]) <= 2 and p,
        )
        assert reset["charts"]
        ended = wait_in_page(
            chromium, "the report link", lambda: (p := panel(chromium)) and p["report"], 60
        )
        chromium.screenshot(tmp_path / "streaming-ended.png", 1400)
        report = web.get("/flowload/report").decode()
        assert ended == "open its report"
        assert "<title>flowload report</title>" in report
        assert off_site_requests(chromium, web.base) == []
    assert (tmp_path / "streaming.png").stat().st_size > 50_000


def test_a_start_with_an_empty_host_shows_the_error_in_the_form(
    tmp_path: Path, chromium: Browser
) -> None:
    with web_locust(tmp_path, "--report-dir", str(tmp_path / "r")) as web:
        chromium.load(web.base + "/")
        assert chromium.evaluate(CLEAR_HOST_JS) == ""
        assert chromium.evaluate(START_JS)
        alerts = wait_in_page(
            chromium, "the error", lambda: list(json.loads(chromium.evaluate(ALERTS_JS)))
        )
        chromium.screenshot(tmp_path / "start-error.png", 800)
        state = web.json("/stats/requests")["state"]
    assert any("the Host field is empty" in alert for alert in alerts), alerts
    assert state == "ready"  # nothing started


def test_a_test_that_cannot_start_shows_why_in_the_streaming_tab(
    tmp_path: Path, chromium: Browser
) -> None:
    blocker = tmp_path / "r"
    blocker.write_text("a file where the report directory should go", encoding="utf-8")
    with web_locust(tmp_path, "--report-dir", str(blocker)) as web:
        assert web.post("/swarm", {"user_count": "2", "spawn_rate": "2"})["success"] is True
        web.wait_for("the error", lambda: web.json("/flowload/live.json")["error"])
        chromium.load(web.base + "/?tab=flowload-streaming")
        shown = wait_in_page(
            chromium, "the banner", lambda: (p := panel(chromium)) and p["error"] and p
        )
        chromium.screenshot(tmp_path / "start-failed.png", 600)
        code = web.stop_process()
    error = shown["error"]
    assert shown["charts"] == []  # no test ran: no empty charts either
    assert error.startswith("The test could not start: --report-dir")
    assert "is not a directory" in error
    assert code == 3  # the last START failed
