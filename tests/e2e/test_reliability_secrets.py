"""No API key leaks: every mode runs with its own unique key, then everything is grepped for it.

Searched: every file under the test's directory (report dir, cwd, scenario; the key file itself
excepted), stdout and stderr, and the web UI's pages and JSON/CSV. Each key contains characters
that URL quoting changes, and is searched raw and quoted (``quote``/``quote_plus``).
"""

from __future__ import annotations

import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import orjson
import pytest

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    FLOWS,
    free_port,
    load_json,
    load_jsonl,
    locust_command,
    locust_env,
    run_locust,
    scenario_file,
)
from tests.servers import RecordedRequest, ScriptedServer, Step, content_length

FLOWS_TOML = """
[[flows]]
name = "good"
id = "{orders}"
headers = {{ "x-flowload-items" = "3", "x-flowload-ttfi-ms" = "30", "x-flowload-gap-ms" = "20" }}

[[flows]]
name = "broken"
id = "{chat}"
headers = {{ "x-flowload-fault" = "status:503" }}

[[flows]]
name = "reset"
id = "{report}"
headers = {{ "x-flowload-fault" = "reset:after=1", "x-flowload-gap-ms" = "20" }}
"""


def unique_key(label: str) -> str:
    """A key no file could contain by chance, with characters that URL quoting rewrites."""
    return f"fl-{label}-{secrets.token_hex(8)}+/=&%"


def flows() -> str:
    """The flows of every run here: one fine, one HTTP error, one reset mid-stream."""
    return FLOWS_TOML.format(
        orders=FLOWS["orders-export"], chat=FLOWS["chat-answer"], report=FLOWS["report-build"]
    )


def forms(key: str) -> set[str]:
    """The spellings of ``key`` that would count as a leak."""
    return {key, quote(key), quote(key, safe=""), quote_plus(key), key[:-5]}


def assert_no_leak(keys: list[str], texts: dict[str, str], root: Path, skip: set[Path]) -> None:
    """No spelling of any key in ``texts`` nor in any file under ``root`` (but ``skip``)."""
    haystacks = dict(texts)
    files = [p for p in root.rglob("*") if p.is_file() and p not in skip]
    assert files, f"nothing written under {root}?"
    for path in files:
        haystacks[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    for key in keys:
        for form in forms(key):
            for where, text in haystacks.items():
                assert form not in text, f"key leaked into {where}"


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[list[SimulatorProcess]]:
    """Simulators started by a test (stopped at its end)."""
    started: list[SimulatorProcess] = []
    yield started
    for sim in started:
        sim.stop()


def start_simulator(started: list[SimulatorProcess], log: Path, key: str) -> SimulatorProcess:
    """A simulator accepting only ``key`` (given through its environment, never argv)."""
    sim = SimulatorProcess(["--log", str(log), "--limit", "30", "--seed", "3"], api_key=key)
    sim.start()
    started.append(sim)
    return sim


def _headless(
    tmp_path: Path,
    scenario: Path,
    env: dict[str, str],
    *extra: str,
    codes: tuple[int, ...] = (0, 1),
) -> tuple[str, str]:
    proc = run_locust(
        [
            *("--headless", "-u", "6", "-r", "6", "-t", "2s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--report-dir", str(tmp_path / "report"), *extra),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode in codes, proc.stderr[-3000:]
    summary = load_json(tmp_path / "report" / "summary.json")
    assert summary["overall"]["streams"] > 0
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("mode", ["header", "query"])
def test_header_and_query_modes_leak_nothing(
    tmp_path: Path, sim_factory: list[SimulatorProcess], mode: str
) -> None:
    key = unique_key(mode)
    sim = start_simulator(sim_factory, tmp_path / "server.jsonl", key)
    scenario = scenario_file(tmp_path, sim.url, flows())
    # Locust's own CSV and HTML reports too: request names, URLs, failures and the options.
    extra = ["--csv", str(tmp_path / "locust"), "--html", str(tmp_path / "locust.html")]
    out, err = _headless(tmp_path, scenario, {"E2E_FLOW_KEY": key}, "--api-key-mode", mode, *extra)
    assert (tmp_path / "locust.html").is_file()
    assert "http_error" in (tmp_path / "locust_failures.csv").read_text(encoding="utf-8")
    summary = load_json(tmp_path / "report" / "summary.json")
    assert summary["overall"]["outcomes"]["ok"] > 0  # the key was accepted: it was sent
    assert_no_leak([key], {"stdout": out, "stderr": err}, tmp_path, set())


def test_per_env_keys_from_env_var_and_file(
    tmp_path: Path, sim_factory: list[SimulatorProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    prod, dev = unique_key("prod"), unique_key("dev")
    # The simulator's profile names env vars; the test process passes them on to the child.
    monkeypatch.setenv("SIM_PROD_KEY", prod)
    monkeypatch.setenv("SIM_DEV_KEY", dev)
    profile = tmp_path / "profile.toml"
    profile_flows = "".join(
        f'[[flows]]\nname = "{name}"\nid = "{flow_id}"\nttfi_ms = 30\ngap_ms = 20\nitems = 3\n'
        for name, flow_id in FLOWS.items()
    )
    profile.write_text(
        '[envs.Production]\napi_key_env = "SIM_PROD_KEY"\n'
        f'[envs.Development]\napi_key_env = "SIM_DEV_KEY"\n{profile_flows}',
        encoding="utf-8",
    )
    log = tmp_path / "server.jsonl"
    sim = SimulatorProcess(["--log", str(log), "--profile", str(profile), "--seed", "3"])
    sim.start()
    sim_factory.append(sim)
    key_file = tmp_path / "secrets" / "dev.key"
    key_file.parent.mkdir()
    key_file.write_text(dev + "\n", encoding="utf-8")
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f'[target]\nurl = "{sim.url}"\ntenant = "acme"\nworkspace = "sales"\n\n'
        '[[envs]]\nname = "Production"\napi_key_env = "PROD_KEY"\n\n'
        f'[[envs]]\nname = "Development"\napi_key_file = "{key_file}"\n{flows()}',
        encoding="utf-8",
    )
    out, err = _headless(tmp_path, scenario, {"PROD_KEY": prod}, "--api-key-mode", "query")
    summary = load_json(tmp_path / "report" / "summary.json")
    for env in ("Production", "Development"):  # each env's own key was accepted
        assert summary["by_env"][env]["outcomes"]["ok"] > 0, summary["by_env"][env]
    assert_no_leak([prod, dev], {"stdout": out, "stderr": err}, tmp_path, {key_file})


def test_a_wrong_key_gives_401s_and_leaks_nothing(
    tmp_path: Path, sim_factory: list[SimulatorProcess]
) -> None:
    right, wrong = unique_key("right"), unique_key("wrong")
    sim = start_simulator(sim_factory, tmp_path / "server.jsonl", right)
    scenario = scenario_file(tmp_path, sim.url, flows())
    # --no-fail-fast: every env keeps sending, so both envs' refusals are written and searched.
    extra = ["--api-key-mode", "query", "--no-fail-fast"]
    out, err = _headless(tmp_path, scenario, {"E2E_FLOW_KEY": wrong}, *extra)
    summary = load_json(tmp_path / "report" / "summary.json")
    assert summary["overall"]["outcomes"]["http_error"] == summary["overall"]["streams"]
    assert "401" in out + err
    # The key is masked, the env (not a secret) is not: the error says which env refused it.
    errors = {r["error"] for r in load_jsonl(tmp_path / "report" / "streams.jsonl")}
    for env in ("Production", "Development"):
        assert any(f"not valid for env {env}" in e for e in errors), errors
    assert_no_leak([right, wrong], {"stdout": out, "stderr": err}, tmp_path, set())


def test_distributed_run_leaks_nothing(tmp_path: Path, sim_factory: list[SimulatorProcess]) -> None:
    key = unique_key("dist")
    sim = start_simulator(sim_factory, tmp_path / "server.jsonl", key)
    scenario = scenario_file(tmp_path, sim.url, flows())
    port = str(free_port())
    env = locust_env({"E2E_FLOW_KEY": key})
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--headless", "-u", "4", "-r", "4", "-t", "3s", "--expect-workers", "1"]
    master_args += ["--stop-timeout", "5", "--flow-config", str(scenario), "--api-key-mode"]
    master_args += ["query", "--report-dir", str(tmp_path / "report"), "--loglevel", "DEBUG"]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    worker_args += ["--loglevel", "DEBUG"]
    procs = [
        subprocess.Popen(
            locust_command(*args),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (master_args, worker_args)
    ]
    texts: dict[str, str] = {}
    try:
        for name, proc in zip(("master", "worker"), procs, strict=True):
            out, err = proc.communicate(timeout=90)
            texts[f"{name} stdout"], texts[f"{name} stderr"] = out, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert procs[0].returncode in (0, 1), texts["master stderr"][-3000:]
    summary = load_json(tmp_path / "report" / "summary.json")
    assert summary["overall"]["outcomes"]["ok"] > 0
    assert_no_leak([key], texts, tmp_path, set())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return bytes(response.read()).decode("utf-8", errors="replace")


WEB_PAGES = ("/", "/stats/requests", "/stats/requests/csv", "/stats/failures/csv",
             "/flowload/streaming.csv", "/flowload/live.json")  # fmt: skip


def _web_pages(base: str, deadline_s: float) -> dict[str, str]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            stats = orjson.loads(_get(f"{base}/stats/requests"))
            tabs = {t["key"]: t["data"] for t in stats.get("extended_stats", [])}
            if tabs.get("flowload-streaming"):
                return {path: _get(base + path) for path in WEB_PAGES}
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the web UI never showed streaming rows")


def test_web_ui_pages_leak_nothing(tmp_path: Path, sim_factory: list[SimulatorProcess]) -> None:
    key = unique_key("web")
    sim = start_simulator(sim_factory, tmp_path / "server.jsonl", key)
    scenario = scenario_file(tmp_path, sim.url, flows())
    port = free_port()
    args = ["--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "-u", "4"]
    args += ["-r", "4", "-t", "6s", "--autoquit", "1", "--flow-config", str(scenario)]
    args += ["--api-key-mode", "query", "--report-dir", str(tmp_path / "report")]
    proc = subprocess.Popen(
        locust_command(*args), cwd=tmp_path, env=locust_env({"E2E_FLOW_KEY": key}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        pages = _web_pages(f"http://127.0.0.1:{port}", 20)
    finally:
        out, err = proc.communicate(timeout=60)
    assert "api_key_mode" in pages["/"] or "api-key-mode" in pages["/"]  # the options are there
    assert "STREAM" in pages["/stats/requests/csv"]
    assert "http_error" in pages["/stats/failures/csv"]
    assert_no_leak([key], {"stdout": out, "stderr": err, **pages}, tmp_path, set())


TRACEBACK_LOCUSTFILE = """
from locust import events

from locustfiles.flow_stream import *  # noqa: F403


@events.request.add_listener
def explode(**kw):
    raise RuntimeError("a listener bug, with the request context: " + repr(kw.get("context")))
"""


def test_a_traceback_leaks_nothing(tmp_path: Path, sim_factory: list[SimulatorProcess]) -> None:
    key = unique_key("tb")
    sim = start_simulator(sim_factory, tmp_path / "server.jsonl", key)
    scenario = scenario_file(tmp_path, sim.url, flows())
    locustfile = tmp_path / "buggy_locustfile.py"
    locustfile.write_text(TRACEBACK_LOCUSTFILE, encoding="utf-8")
    proc = subprocess.run(
        locust_command(
            *("--headless", "-u", "3", "-r", "3", "-t", "2s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--api-key-mode", "query"),
            *("--report-dir", str(tmp_path / "report")),
            locustfile=locustfile,
        ),
        cwd=tmp_path,
        env=locust_env({"E2E_FLOW_KEY": key}),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert "Traceback" in proc.stderr, proc.stderr[-3000:]  # the bug did surface
    assert "a listener bug" in proc.stderr
    # A malformed scenario with the key in the environment: one line, no key.
    bad = tmp_path / "bad.toml"
    bad.write_text('[target\nurl = "x"\n', encoding="utf-8")
    broken = run_locust(
        ["--headless", "-u", "1", "-t", "1s", "--flow-config", str(bad)],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": key, "FLOW_API_KEY": key},
    )
    assert broken.returncode == 3, broken.stderr[-3000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    texts |= {"bad stdout": broken.stdout, "bad stderr": broken.stderr}
    assert_no_leak([key], texts, tmp_path, set())


@pytest.mark.parametrize("spell", [str, quote_plus, lambda k: quote(k, safe="")])
def test_the_leak_check_finds_every_spelling(tmp_path: Path, spell: Callable[[str], str]) -> None:
    key = unique_key("control")
    leaky = tmp_path / "files" / "deep" / "log.txt"
    leaky.parent.mkdir(parents=True)
    leaky.write_text(f"x {spell(key)} y", encoding="utf-8")
    with pytest.raises(AssertionError, match="key leaked into"):
        assert_no_leak([key], {}, tmp_path / "files", set())
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.txt").write_text("nothing here", encoding="utf-8")
    assert_no_leak([key], {"stdout": "fine"}, clean, set())
    with pytest.raises(AssertionError, match="key leaked into stderr"):
        assert_no_leak([key], {"stderr": f"..{spell(key)}.."}, clean, set())


def _echo_everything(request: RecordedRequest) -> list[Step]:
    """A careless server: its 401 body repeats the request line and the key header."""
    detail = f"{request.method} {request.target} x-api-key={request.headers.get('x-api-key')}"
    body = orjson.dumps({"status": 401, "title": "Unauthorized", "detail": detail})
    return content_length([(0.0, body)], status=401)


@pytest.mark.parametrize("mode", ["header", "query"])
def test_a_server_echoing_the_key_does_not_leak_it(tmp_path: Path, mode: str) -> None:
    key = unique_key(f"echo-{mode}")
    with ScriptedServer(_echo_everything) as server:
        scenario = scenario_file(tmp_path, server.url().rstrip("/"), flows())
        extra = ["--api-key-mode", mode, "--csv", str(tmp_path / "locust")]
        # The refusals stop the run early (exit 3); its message quotes the echo, searched too.
        out, err = _headless(tmp_path, scenario, {"E2E_FLOW_KEY": key}, *extra, codes=(3,))
        assert "Stopping the run (exit 3)" in err
        assert server.requests, "the server saw no request"
        sent = str(server.requests[0])
        assert any(form in sent for form in forms(key)), "the key was not sent: nothing to echo"
    summary = load_json(tmp_path / "report" / "summary.json")
    assert summary["overall"]["outcomes"]["http_error"] == summary["overall"]["streams"]
    assert "Unauthorized" in (tmp_path / "locust_failures.csv").read_text(encoding="utf-8")
    assert_no_leak([key], {"stdout": out, "stderr": err}, tmp_path, set())
