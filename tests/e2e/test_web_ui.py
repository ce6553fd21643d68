"""The web UI through its endpoints: the Streaming tab's table, CSV, live view, RESET, START."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.report.render.colours import env_colour
from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    free_port,
    load_json,
    locust_command,
    locust_env,
    run_locust,
    scenario_file,
)
from tests.e2e.test_quick_start import SLOW
from tests.e2e.webui_helpers import wait_until_stopped, web_locust


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return bytes(response.read())


def _wait_for_rows(base: str, deadline_s: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            stats = orjson.loads(_get(f"{base}/stats/requests"))
        except OSError:
            time.sleep(0.3)
            continue
        tabs = {t["key"]: t["data"] for t in stats.get("extended_stats", [])}
        rows = tabs.get("flowload-streaming", [])
        if rows:
            return list(rows)
        time.sleep(0.3)
    return []


def test_streaming_tab_updates_live(tmp_path: Path) -> None:
    port = free_port()
    args = ["--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "-u", "3"]
    args += ["-r", "3", "-t", "8s", "--autoquit", "1", "--report-dir", str(tmp_path / "r")]
    proc = subprocess.Popen(
        locust_command(*args),
        cwd=tmp_path,
        env=locust_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        rows = _wait_for_rows(base, 20)
        page = _get(f"{base}/").decode()
        csv_text = _get(f"{base}/flowload/streaming.csv").decode()
    finally:
        _out, err = proc.communicate(timeout=60)
    assert rows, err[-3000:]
    assert {"env", "flow", "streams", "ok_pct", "ttfi_p95_ms", "problems"} <= set(rows[0])
    assert any(r["env"] == "all" and r["flow"] == "all" for r in rows)
    assert '"extended_tabs": [{"key": "flowload-streaming", "title": "Streaming"}]' in page
    assert csv_text.splitlines()[0].startswith("Env,Flow,Streams,OK %,TTFI p50 (ms)")
    assert csv_text.splitlines()[0].endswith(",stalled,limit_exceeded")
    assert proc.returncode == 0, err[-3000:]
    assert (tmp_path / "r" / "summary.json").exists()


def _all_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next((r for r in rows if r["env"] == "all" and r["flow"] == "all"), {"streams": 0})


@pytest.fixture
def faulty_simulator() -> Iterator[SimulatorProcess]:
    """A simulator where about a third of the streams fail (seeded)."""
    sim = SimulatorProcess(["--seed", "11", "--fault-rate", "0.35", "--limit", "30"])
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_locust_counts_each_stream_once(tmp_path: Path, faulty_simulator: SimulatorProcess) -> None:
    args = ["--autostart", "-u", "6", "-r", "6", "-t", "6s", "--autoquit", "20"]
    args += ["--host", faulty_simulator.url, "--report-dir", str(tmp_path / "r")]
    with web_locust(tmp_path, *args) as web:
        wait_until_stopped(web)
        stats = web.json("/stats/requests")
        streams = _all_row(web.streaming_rows())
    summary = load_json(tmp_path / "r" / "summary.json")["overall"]
    failed = summary["streams"] - summary["outcomes"]["ok"]
    assert failed > 0, "the fault rate gave no failed stream: the failure share is not tested"
    entries = [s for s in stats["stats"] if s["name"] != "Aggregated"]
    assert {s["method"] for s in entries} == {"STREAM"}
    total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
    assert total["num_requests"] == summary["streams"] == streams["streams"]
    assert total["num_failures"] == failed
    assert stats["fail_ratio"] == pytest.approx(failed / summary["streams"])


def test_the_console_and_json_count_each_stream_once(
    tmp_path: Path, faulty_simulator: SimulatorProcess
) -> None:
    proc = run_locust(
        ["--headless", "-u", "6", "-r", "6", "-t", "4s", "--host", faulty_simulator.url,
         "--report-dir", str(tmp_path / "r"), "--json-file", str(tmp_path / "locust")],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: Locust's own, streams failed
    summary = load_json(tmp_path / "r" / "summary.json")["overall"]
    entries = load_json(tmp_path / "locust.json")  # Locust's final statistics
    assert {e["method"] for e in entries} == {"STREAM"}
    assert sum(e["num_requests"] for e in entries) == summary["streams"]
    assert sum(e["num_failures"] for e in entries) == summary["streams"] - summary["outcomes"]["ok"]
    assert "STREAM" in proc.stderr  # Locust's console tables (its log)
    assert "TTFI" not in proc.stderr


def test_reset_resets_the_streaming_tab(tmp_path: Path) -> None:
    args = ["--autostart", "-u", "6", "-r", "6", "-t", "30s", "--autoquit", "1"]
    args += ["--report-dir", str(tmp_path / "r"), "--stop-timeout", "0"]
    with web_locust(tmp_path, *args) as web:
        web.wait_for("20 streams", lambda: _all_row(web.streaming_rows())["streams"] >= 20)
        web.wait_for("3 samples", lambda: len(web.json("/flowload/live.json")["t"]) >= 3)
        before = web.json("/flowload/live.json")
        assert web.post("/stats/reset") == "ok"
        after = _all_row(web.streaming_rows())["streams"]
        live = web.json("/flowload/live.json")
        web.post("/stop")
        web.stop_process()
    assert after <= 6, after  # the streams that ended since the reset: at most one per user
    assert len(live["t"]) <= 1
    # The charts draw each env in the colour the reports give it.
    assert "Production" in before["envs"]
    assert before["colours"] == {env: env_colour(env) for env in before["envs"]}
    # The run's own record keeps every stream of the test.
    assert load_json(tmp_path / "r" / "summary.json")["overall"]["streams"] >= 20


def test_a_failed_start_shows_its_error_and_a_later_good_run_exits_0(tmp_path: Path) -> None:
    blocker = tmp_path / "r"
    blocker.write_text("a file where the report directory should go", encoding="utf-8")
    args = ["--report-dir", str(blocker), "--stop-timeout", "0"]
    with web_locust(tmp_path, *args) as web:
        host = web.json("/flowload/live.json")  # the page works before any test
        assert host["error"] is None
        empty = web.post("/swarm", {"user_count": "2", "spawn_rate": "2", "host": ""})
        assert empty["success"] is False
        assert "the Host field is empty" in empty["message"]
        form = {"user_count": "2", "spawn_rate": "2"}
        assert web.post("/swarm", form)["success"] is True
        live = web.wait_for("the error", lambda: web.json("/flowload/live.json")["error"])
        assert "is not a directory" in live
        web.wait_for("the test to stop", lambda: web.json("/stats/requests")["state"] == "stopped")
        blocker.unlink()
        assert web.post("/swarm", {**form, "run_time": "3s"})["success"] is True
        wait_until_stopped(web)
        assert web.json("/flowload/live.json")["error"] is None
        code = web.stop_process()
    assert code == 0, web.stderr[-3000:]
    assert "is not a directory" in web.stderr  # the log has it too, in one line
    assert "Traceback" not in web.stderr
    assert "flowload is not set up" not in web.stderr  # no user started for the failed test
    assert (blocker / "summary.json").exists()


def test_stop_in_the_web_ui_cuts_the_streams_at_once(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    scenario = scenario_file(tmp_path, simulator.url, SLOW.format(orders=FLOWS["orders-export"]))
    args = ["--autostart", "-u", "3", "-r", "3", "--flow-spawn-spread", "0"]
    args += ["--flow-config", str(scenario), "--report-dir", str(tmp_path / "r")]
    with web_locust(tmp_path, *args, env={"E2E_FLOW_KEY": E2E_KEY}) as web:
        web.wait_for("3 samples", lambda: len(web.json("/flowload/live.json")["t"]) >= 2)
        started = time.monotonic()
        web.post("/stop")
        live = wait_until_stopped(web)
        took = time.monotonic() - started
        web.stop_process()
    run = load_json(tmp_path / "r" / "summary.json")["run"]
    assert took < 4.0, took  # the streams last about 6 s: they were not waited for
    assert run["cancelled_streams"] >= 1
    assert live["latest"]  # the charts keep the test's points


def test_the_masters_streaming_tab_counts_the_workers_streams(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    scenario = scenario_file(tmp_path, simulator.url, SLOW.format(orders=FLOWS["orders-export"]))
    port = str(free_port())
    args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    args += ["--autostart", "-u", "4", "-r", "4", "-t", "8s", "--autoquit", "30"]
    args += ["--expect-workers", "1", "--stop-timeout", "10", "--flow-spawn-spread", "0"]
    args += ["--flow-config", str(scenario), "--report-dir", str(tmp_path / "r")]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    env = {"E2E_FLOW_KEY": E2E_KEY}
    with web_locust(tmp_path, *args, env=env) as web:
        worker = subprocess.Popen(
            locust_command(*worker_args), cwd=tmp_path, env=locust_env(env),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            flying = web.wait_for(
                "streams in flight",
                lambda: sum(
                    v["in_flight"] or 0 for v in web.json("/flowload/live.json")["latest"].values()
                ),
            )
            wait_until_stopped(web)
            rows = web.streaming_rows()
            web.stop_process()
        finally:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:  # its shutdown is not what this test is about
                worker.kill()
                worker.wait(timeout=10)
    summary = load_json(tmp_path / "r" / "summary.json")
    assert flying == 4  # 4 users, one ~6 s stream each
    assert _all_row(rows)["streams"] == summary["overall"]["streams"] > 0
