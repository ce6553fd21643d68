"""What ``--host`` means without a scenario: a flowload simulator only when one answers there."""

from __future__ import annotations

from pathlib import Path

from harness.cli.exitcodes import EXIT_COULD_NOT_RUN
from harness.simulator import SimulatorProcess
from tests.e2e.conftest import load_json, run_locust
from tests.servers import ScriptedServer, content_length


def test_a_simulator_host_is_named_as_such(tmp_path: Path, simulator: SimulatorProcess) -> None:
    report = tmp_path / "r"
    proc = run_locust(
        ["--headless", "-u", "2", "-r", "2", "-t", "2s", "--host", simulator.url,
         "--report-dir", str(report)],
        cwd=tmp_path,
        env={"FLOW_API_KEY": "e2e-key-7c1f0a9d3b5e"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"flowload: {simulator.url} is a flowload simulator" in proc.stderr
    assert "for a Flow server on this host, give --flow-config" in proc.stderr
    assert load_json(report / "summary.json")["overall"]["streams"] > 0


def test_a_loopback_server_that_is_no_simulator_gets_no_guessed_requests(tmp_path: Path) -> None:
    not_found = content_length([(0.0, b'{"status": 404}')], status=404)
    with ScriptedServer(lambda _request: not_found) as server:
        host = server.url().rstrip("/")
        proc = run_locust(
            ["--headless", "-u", "2", "-r", "2", "-t", "2s", "--host", host,
             "--report-dir", str(tmp_path / "r")],
            cwd=tmp_path,
        )  # fmt: skip
        seen = [(r.method, r.target) for r in server.requests]
    assert proc.returncode == EXIT_COULD_NOT_RUN, proc.stderr[-3000:]
    assert f"--host {host}: no [target] tenant and workspace" in proc.stderr
    assert "no flowload simulator answers there" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert seen == [("GET", "/_flowload/stats")]  # the check itself, no stream request
    assert not (tmp_path / "r" / "summary.json").exists()


def test_a_host_without_scheme_says_add_http(tmp_path: Path) -> None:
    proc = run_locust(["--headless", "-u", "1", "-t", "1s", "--host", "127.0.0.1:9"], cwd=tmp_path)
    assert proc.returncode == EXIT_COULD_NOT_RUN, proc.stderr[-3000:]
    assert "--host '127.0.0.1:9' has no scheme: add http:// or https://" in proc.stderr
    assert "--host http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr
