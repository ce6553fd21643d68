"""The simulator as its own process: first stdout line, --list, keys, the JSONL log, errors."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from harness.cli.simulator import main
from harness.simulator import SimulatorError, SimulatorProcess, default_profile
from harness.simulator.send_log import OUTCOMES

ROOT = Path(__file__).resolve().parents[2]
FLOW = next(iter(default_profile().flows))
TARGET = f"/api/v1/tenants/acme/workspaces/sales/flows/{FLOW}/stream?env=Production"


def get(url: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("POST", target, body=b'{"q": 1}', headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_process_serves_and_logs_one_line_per_stream(tmp_path: Path) -> None:
    log = tmp_path / "sim.jsonl"
    args = ["--seed", "3", "--limit", "5", "--log", str(log)]
    with SimulatorProcess(args, api_key="the-key") as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        assert "the-key" not in repr(sim)
        fast = {"x-flowload-ttfi-ms": "5", "x-flowload-gap-ms": "1", "x-flowload-items": "3"}
        ok = get(sim.url, TARGET, {"x-api-key": "the-key", **fast})
        bad = get(sim.url, TARGET, {"x-api-key": "wrong"})
        cut = get(sim.url, TARGET, {"x-api-key": "the-key", "x-flowload-fault": "truncate", **fast})
        code = sim.stop()
    assert code == 0
    assert ok[0] == 200
    assert len(orjson.loads(ok[2])) == 3
    assert bad[0] == 401
    assert cut[0] == 200
    records = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [r["outcome"] for r in records] == ["ok", "unauthorized", "truncated"]
    assert records[0]["job_id"] == ok[1]["flow-job-id"]
    assert records[2]["job_id"] == cut[1]["flow-job-id"]
    assert records[0]["items"] == 3
    assert records[0]["env"] == "Production"
    assert records[0]["flow"] == "orders-export"
    assert all(r["outcome"] in OUTCOMES for r in records)
    assert b"the-key" not in log.read_bytes()
    assert b"wrong" not in log.read_bytes()


def run_cli(*args: str, env_key: str | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("FLOW_API_KEY", None)
    if env_key:
        env["FLOW_API_KEY"] = env_key
    cmd = [sys.executable, "-m", "harness.simulator", *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )


def test_first_line_then_notice_then_sigterm_exits_zero() -> None:
    proc = run_cli("--port", "0")
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:")
    status, _, _ = get(line.split()[-1], TARGET, {"x-api-key": "whatever"})
    assert status == 200
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == ""
    assert "accepting any non-empty key" in err


def test_flow_api_key_env_var_is_the_only_key() -> None:
    proc = run_cli("--port", "0", "--quiet", env_key="k-env")
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[-1]
    try:
        assert get(url, TARGET, {"x-api-key": "k-env", "x-flowload-items": "0"})[0] == 200
        assert get(url, TARGET, {"x-api-key": "other"})[0] == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert err == ""


def test_list_prints_builtin_flows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for flow in default_profile().flows.values():
        assert flow.id in out
        assert flow.name in out


def test_bad_profile_is_exit_2_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[flows]]\nid = 'x'\nformat = 'xml'\n", encoding="utf-8")
    assert main(["--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err
    assert "json, ndjson, sse" in err


def test_process_that_cannot_start_raises(tmp_path: Path) -> None:
    sim = SimulatorProcess(["--profile", str(tmp_path / "missing.toml")], startup_timeout_s=10)
    with pytest.raises(SimulatorError, match="did not start"):
        sim.start()
