"""deploy/docker/entrypoint.py: keys from a Secret, the master's wait for its reports, exit 0.

The Kubernetes API is a real HTTPS server on 127.0.0.1 answering like the API server would (the
service account files point at it); Locust and the simulator run for real.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    LOCUSTFILE,
    free_port,
    load_json,
    locust_command,
    locust_env,
    scenario_file,
)
from tests.e2e.tls import make_certificate
from tests.servers import RecordedRequest, ScriptedServer, Step, content_length

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "docker" / "entrypoint.py"
TOKEN = "sa-token-5d1e"  # noqa: S105 - a made-up service account token
NAMESPACE = "loadtest"
FLOW = """
[[flows]]
name = "quick"
id = "{orders}"
headers = {{ "x-flowload-items" = "3", "x-flowload-ttfi-ms" = "20", "x-flowload-gap-ms" = "20" }}
"""


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("flowload_entrypoint", ENTRYPOINT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _secret(**values: str) -> dict[str, Any]:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "flow-api-keys"},
        "data": data,
    }


class FakeApi:
    """An HTTPS 'Kubernetes API' on loopback, and the service account files that point at it."""

    def __init__(self, tmp: Path, status: int, body: dict[str, Any]) -> None:
        cert, key = make_certificate(tmp / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        payload = orjson.dumps(body)
        self.server = ScriptedServer(self._answer(status, payload), tls=context)
        self.account = tmp / "serviceaccount"
        self.account.mkdir()
        (self.account / "token").write_text(TOKEN + "\n", encoding="utf-8")
        (self.account / "namespace").write_text(NAMESPACE, encoding="utf-8")
        (self.account / "ca.crt").write_bytes(cert.read_bytes())

    @staticmethod
    def _answer(status: int, payload: bytes) -> Any:
        def script(_request: RecordedRequest) -> list[Step]:
            return content_length([(0.0, payload)], status=status)

        return script

    def env(self) -> dict[str, str]:
        """What a pod would have, pointing at this server."""
        return {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(self.server.port),
            "FLOWLOAD_SERVICEACCOUNT_DIR": str(self.account),
        }


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[FakeApi] = []

    def make(status: int, body: dict[str, Any]) -> FakeApi:
        api = FakeApi(tmp_path, status, body)
        api.server.__enter__()
        started.append(api)
        return api

    yield make
    for api in started:
        api.server.stop()


def _entrypoint_env(extra: dict[str, str]) -> dict[str, str]:
    env = locust_env()
    for name in list(env):
        if name.startswith(("KUBERNETES_", "FLOWLOAD_", "E2E_")):
            del env[name]
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env | extra


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        env=_entrypoint_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_keys_from_the_secret_reach_locust(tmp_path: Path, api_factory: Any) -> None:
    api = api_factory(200, _secret(E2E_FLOW_KEY=E2E_KEY + "\n", OTHER="not-needed-9c1d"))
    with SimulatorProcess(["--limit", "30"], api_key=E2E_KEY) as sim:
        scenario = scenario_file(tmp_path, sim.url, FLOW.format(orders=FLOWS["orders-export"]))
        secret_env = {"FLOWLOAD_SECRET": "flow-api-keys", "FLOWLOAD_SECRET_KEYS": "E2E_FLOW_KEY"}
        args = ["-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "-t", "2s"]
        args += ["--flow-config", str(scenario), "--report-dir", str(tmp_path / "report")]
        done = _run(args, api.env() | secret_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = load_json(tmp_path / "report" / "summary.json")["overall"]["outcomes"]
    assert outcomes["ok"] > 0, outcomes  # the simulator answers 401 to a wrong or missing key
    assert outcomes["http_error"] == 0, outcomes
    (request,) = api.server.requests
    assert request.method == "GET"
    assert request.target == f"/api/v1/namespaces/{NAMESPACE}/secrets/flow-api-keys"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    for secret in (E2E_KEY, "not-needed-9c1d", TOKEN):
        assert secret not in done.stdout + done.stderr


STATUS = {"kind": "Status"}
BAD_SECRETS = [
    (403, STATUS, "E2E_FLOW_KEY", "may not read Secret 'flow-api-keys' (HTTP 403)"),
    (404, STATUS, "E2E_FLOW_KEY", "does not exist in namespace 'loadtest'"),
    (200, _secret(OTHER="x-5e2a"), "E2E_FLOW_KEY", "no key 'E2E_FLOW_KEY' (its keys: OTHER)"),
    (200, _secret(OTHER="x-5e2a"), "", "FLOWLOAD_SECRET_KEYS is empty"),
]


@pytest.mark.parametrize("case", BAD_SECRETS)
def test_a_secret_that_cannot_be_used_is_one_clear_line(
    tmp_path: Path, api_factory: Any, case: tuple[int, dict[str, Any], str, str]
) -> None:
    status, body, keys, expected = case
    api = api_factory(status, body)
    env = api.env() | {"FLOWLOAD_SECRET": "flow-api-keys", "FLOWLOAD_SECRET_KEYS": keys}
    done = _run(["--headless", "-t", "1s"], env, tmp_path)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("flowload: ")
    assert expected in done.stderr
    assert "x-5e2a" not in done.stderr
    assert done.stdout == ""  # Locust never started


def test_outside_a_pod_the_secret_cannot_be_read(tmp_path: Path) -> None:
    done = _run(["--headless"], {"FLOWLOAD_SECRET": "s", "FLOWLOAD_SECRET_KEYS": "K"}, tmp_path)
    assert done.returncode == 3
    assert "no service account token" in done.stderr
    assert done.stderr.count("\n") == 1


def test_reports_are_worth_holding_only_when_written(tmp_path: Path) -> None:
    entry = _module()
    reports = tmp_path / "reports"
    assert not entry.has_reports(reports)
    (reports / "run").mkdir(parents=True)
    (reports / ".collected").touch()
    assert not entry.has_reports(reports)
    (reports / "run" / "summary.json").write_text("{}", encoding="utf-8")
    assert entry.has_reports(reports)


def test_the_wait_ends_when_collected_or_at_its_limit(tmp_path: Path) -> None:
    entry = _module()
    started = time.perf_counter()
    assert entry.wait_for_collection(tmp_path, 0.6) is False
    assert 0.5 <= time.perf_counter() - started < 3
    threading.Timer(0.3, (tmp_path / ".collected").touch).start()
    started = time.perf_counter()
    assert entry.wait_for_collection(tmp_path, 30) is True
    assert time.perf_counter() - started < 3


def _wait_for_line(proc: subprocess.Popen[str], needle: str, lines: list[str]) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return
    raise AssertionError("".join(lines[-40:]))


def test_the_master_holds_its_reports_then_exits_zero(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    port = str(free_port())
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "-t", "2s"]
    master_args += ["--expect-workers", "1", "--report-dir", str(reports / "run")]
    master_args += ["--gate", "ttfi.p95 < 0.001ms", "--gate-min-streams", "1"]  # fails: exit 4
    env = {"FLOWLOAD_HOLD_REPORTS_S": "60", "FLOWLOAD_EXIT_ZERO": "true"}
    env["FLOWLOAD_REPORTS"] = str(reports)
    master = subprocess.Popen(
        [sys.executable, "-u", str(ENTRYPOINT), *master_args],
        env=_entrypoint_env(env), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", port),
        env=locust_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    lines: list[str] = []
    try:
        _wait_for_line(master, "flowload: waiting up to 60 s", lines)
        output = "".join(lines)
        # 4: the gate failed; 5: inconclusive (a busy machine can saturate the generator)
        code = re.search(r"locust exited with code (\d+)", output)
        assert code is not None, output
        assert code.group(1) in {"4", "5"}, output
        assert "kubectl exec " in output
        assert f"touch {reports}/.collected" in output
        assert (reports / "run" / "summary.json").is_file()
        time.sleep(1.0)
        assert master.poll() is None  # still holding
        (reports / ".collected").touch()
        rest, _ = master.communicate(timeout=10)
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
    assert master.returncode == 0
    assert "flowload: reports collected" in rest
    assert f"exiting 0 (FLOWLOAD_EXIT_ZERO); locust's exit code was {code.group(1)}" in rest
