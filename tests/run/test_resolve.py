"""Tests of harness.run.session: resolving a run's target, flows and keys; recording streams."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import loads_scenario
from harness.errors import ConfigError
from harness.flow_api import Env
from harness.reader import ItemFormat
from harness.results import RecordsError, read_records
from harness.results.stream import Outcome, StreamResult
from harness.run.request_mix import SIMULATOR_TENANT, SIMULATOR_WORKSPACE
from harness.run.resolve import (
    SIMULATOR_DEMO_KEY,
    is_flowload_simulator,
    needs_embedded_simulator,
    resolve_run,
)
from harness.run.session import RunSession
from harness.simulator import SimulatorProcess, default_profile
from tests.servers import ScriptedServer, content_length

SIM_HOST = "http://127.0.0.1:8089"
REAL_TARGET = """
[target]
url = "https://flow.example.com"
tenant = "acme"
workspace = "sales"
limit_s = 120
stall_timeout_s = 7
"""
ONE_FLOW = """
[[flows]]
name = "orders"
id = "f-orders"
"""
ENDPOINT = "https://flow.example.com/api/v1/tenants/acme/workspaces/sales/flows/f-1/stream"


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no key in the environment; tests set what they need."""
    for var in ("FLOW_API_KEY", "FLOW_API_KEY_TEST", "FLOW_API_KEY_PRODUCTION"):
        monkeypatch.delenv(var, raising=False)


def key_of(request_headers: tuple[tuple[str, str], ...]) -> str | None:
    return dict(request_headers).get("x-api-key")


def test_simulator_like_host_uses_simulator_tenant_flows_and_demo_key() -> None:
    run = resolve_run(loads_scenario(""), SIM_HOST, simulator=True)
    assert run.simulator_like
    assert run.host == SIM_HOST
    profile_ids = {f.id for f in default_profile().flows.values()}
    assert {t.flow.id for t in run.plan.targets} == profile_ids
    assert {t.env for t in run.plan.targets} == set(Env)
    assert len(run.plan.targets) == len(profile_ids) * len(Env)
    prefix = f"{SIM_HOST}/api/v1/tenants/{SIMULATOR_TENANT}/workspaces/{SIMULATOR_WORKSPACE}/"
    for target in run.plan.targets:
        assert target.request.url.startswith(prefix)
        assert key_of(target.request.headers) == SIMULATOR_DEMO_KEY


def test_simulator_like_host_sends_the_users_key_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "my-sim-key")
    run = resolve_run(loads_scenario(""), SIM_HOST, simulator=True)
    assert run.simulator_like
    assert {key_of(t.request.headers) for t in run.plan.targets} == {"my-sim-key"}


def test_simulator_like_host_keeps_the_scenarios_own_flows() -> None:
    run = resolve_run(loads_scenario(ONE_FLOW), SIM_HOST, simulator=True)
    assert run.simulator_like
    assert {t.flow.name for t in run.plan.targets} == {"orders"}


def test_simulator_like_host_uses_the_scenarios_simulator_profile(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(
        '[[flows]]\nid = "p-1"\nname = "lines"\nformat = "ndjson"\n'
        '[[flows]]\nid = "p-2"\nformat = "sse"\n'
    )
    s = loads_scenario("[simulator]\nprofile = 'profile.toml'\n", source=tmp_path / "s.toml")
    run = resolve_run(s, SIM_HOST, simulator=True)
    flows = {t.flow.name: t.flow for t in run.plan.targets}
    assert sorted(flows) == ["lines", "p-2"]
    assert flows["lines"].format is ItemFormat.NDJSON
    assert flows["p-2"].format is ItemFormat.SSE


def test_a_loopback_host_is_run_as_a_simulator_only_when_a_simulator_answers() -> None:
    sim = SimulatorProcess(["--seed", "1"])
    sim.start()
    try:
        assert is_flowload_simulator(sim.url)
        run = resolve_run(loads_scenario(""), sim.url)
    finally:
        sim.stop()
    assert run.simulator_like
    assert {t.flow.id for t in run.plan.targets} == {f.id for f in default_profile().flows.values()}


def test_a_loopback_server_that_is_no_simulator_needs_a_scenario() -> None:
    not_found = content_length([(0.0, b'{"status": 404}')], status=404)
    with ScriptedServer(not_found) as server:
        host = server.url().rstrip("/")
        assert not is_flowload_simulator(host)
        with pytest.raises(ConfigError) as caught:
            resolve_run(loads_scenario(""), host)
    message = str(caught.value)
    assert message.startswith(f"--host {host}: no [target] tenant and workspace")
    assert "no flowload simulator answers there" in message
    assert "--flow-config" in message
    assert "flowload simulate" in message


def test_a_closed_loopback_port_is_no_simulator() -> None:
    with pytest.raises(ConfigError, match="no flowload simulator answers there"):
        resolve_run(loads_scenario(""), "http://127.0.0.1:9")


def test_simulator_false_never_guesses_the_tenant() -> None:
    with pytest.raises(ConfigError, match="a base URL needs tenant and workspace"):
        resolve_run(loads_scenario(""), SIM_HOST, simulator=False)


@pytest.mark.parametrize("host", ["127.0.0.1:9", "localhost:8080", "flow.example.com/api"])
def test_a_host_without_scheme_says_add_http(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(""), host)
    message = str(caught.value)
    assert "has no scheme: add http:// or https://" in message
    assert f"--host http://{host}" in message


def test_a_host_without_scheme_keeps_its_key_out_of_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(""), "flow.example.com/x?api_key=s3cret-value")
    assert "s3cret-value" not in str(caught.value)


def test_pasted_endpoint_is_a_real_target_with_its_flow_and_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "real-key-1")
    run = resolve_run(loads_scenario(""), f"{ENDPOINT}?env=Production")
    assert not run.simulator_like
    assert run.host == "https://flow.example.com"
    assert [t.label for t in run.plan.targets] == ["f-1 [Production]"]
    request = run.plan.targets[0].request
    assert request.url == f"{ENDPOINT}?env=Production"
    assert key_of(request.headers) == "real-key-1"


def test_pasted_endpoint_without_env_runs_every_configured_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "real-key-1")
    run = resolve_run(loads_scenario(""), ENDPOINT)
    assert not run.simulator_like
    assert {t.env for t in run.plan.targets} == set(Env)
    assert {t.flow.id for t in run.plan.targets} == {"f-1"}


def test_real_target_limits_and_transport_come_from_the_scenario(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "real-key-1")
    run = resolve_run(loads_scenario(REAL_TARGET + ONE_FLOW), None)
    assert not run.simulator_like
    assert run.limits.limit_s == 120.0
    assert run.limits.stall_timeout_s == 7.0
    # The response timeout leaves room past the server's limit so "limit_exceeded" is seen.
    assert run.transport.response_timeout_s == 130.0
    assert run.transport.verify_tls
    assert run.host == "https://flow.example.com"


def test_host_overrides_the_scenario_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "real-key-1")
    run = resolve_run(loads_scenario(REAL_TARGET + ONE_FLOW), "https://other.example.com")
    assert not run.simulator_like
    assert run.host == "https://other.example.com"
    assert all(
        t.request.url.startswith("https://other.example.com/api/v1/tenants/acme/workspaces/sales/")
        for t in run.plan.targets
    )


def test_base_url_with_tenant_but_no_workspace_is_an_error_with_the_fix() -> None:
    s = loads_scenario('[target]\ntenant = "acme"\n' + ONE_FLOW)
    with pytest.raises(ConfigError) as caught:
        resolve_run(s, "https://flow.example.com")
    message = str(caught.value)
    assert "--host" in message
    assert "tenant and workspace" in message
    assert "/stream" in message  # the other fix: paste the full endpoint


def test_scenario_url_without_tenant_is_refused_when_loading() -> None:
    with pytest.raises(ConfigError, match="tenant and workspace"):
        loads_scenario('[target]\nurl = "https://flow.example.com"\n' + ONE_FLOW)


def test_real_target_without_flows_is_an_error_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "real-key-1")
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(REAL_TARGET), None)
    assert "no [[flows]]" in str(caught.value)
    assert "endpoint" in str(caught.value)


def test_no_key_for_a_real_target_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(REAL_TARGET + ONE_FLOW), None)
    assert "FLOW_API_KEY" in str(caught.value)
    assert "export" in str(caught.value)


def test_missing_per_env_key_names_its_variable_and_leaks_no_other_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prod_value = "prod-secret-value-42"
    monkeypatch.setenv("FLOW_API_KEY_PRODUCTION", prod_value)
    envs = """
[[envs]]
name = "Production"
api_key_env = "FLOW_API_KEY_PRODUCTION"

[[envs]]
name = "Test"
api_key_env = "FLOW_API_KEY_TEST"
"""
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(REAL_TARGET + envs + ONE_FLOW), None)
    message = str(caught.value)
    assert "FLOW_API_KEY_TEST" in message
    assert prod_value not in message


def test_unusable_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_API_KEY", "abc def-secret")
    with pytest.raises(ConfigError) as caught:
        resolve_run(loads_scenario(REAL_TARGET + ONE_FLOW), None)
    message = str(caught.value)
    assert "whitespace" in message
    assert "def-secret" not in message
    assert "abc" not in message


def test_needs_embedded_simulator_only_without_host_and_target() -> None:
    bare = loads_scenario(ONE_FLOW)
    assert needs_embedded_simulator(bare, None)
    assert needs_embedded_simulator(bare, "")
    assert not needs_embedded_simulator(bare, SIM_HOST)
    assert not needs_embedded_simulator(loads_scenario(REAL_TARGET), None)


def result(env: str = "Production", flow: str = "orders", **kw: object) -> StreamResult:
    fields: dict[str, object] = {
        "env": env,
        "flow": flow,
        "outcome": Outcome.OK,
        "started_at": 1_764_000_000.5,
        "duration_s": 1.25,
        "limit_s": 300.0,
        "status": 200,
        "ttfb_s": 0.1,
        "ttfi_s": 0.2,
        "gaps_s": (0.05, 0.07),
        "items": 3,
        "bytes": 120,
    }
    fields.update(kw)
    return StreamResult(**fields)  # type: ignore[arg-type]


def test_record_writes_streams_jsonl_visible_before_close(tmp_path: Path) -> None:
    session = RunSession(worker="w1")
    session.open_records(tmp_path)
    timed_out = result(env="Test", outcome=Outcome.TIMEOUT, error="timed out")
    first = session.record(result())
    second = session.record(timed_out)
    loaded = read_records(tmp_path / "streams.jsonl")  # before close: lines are flushed
    assert loaded.bad_lines == []
    assert loaded.records == [first, second]
    assert second == timed_out.to_record("w1")
    assert first == result().to_record("w1")
    assert first["worker"] == "w1"
    assert session.recorder.overall(1.0)["streams"] == 2
    assert session.recorder.overall(1.0)["outcomes"]["timeout"] == 1
    assert session.pending_records == []  # only a worker keeps them
    session.close()
    assert session.writer is not None
    with pytest.raises(RecordsError, match="closed"):
        session.writer.write({"late": True})


def test_record_without_a_file_still_counts_and_keeps_pending_on_a_worker() -> None:
    session = RunSession(keep_pending=True, worker="w2")
    records = [session.record(result(flow=f)) for f in ("a", "b", "a")]
    assert session.pending_records == records
    assert [r["flow"] for r in session.pending_records] == ["a", "b", "a"]
    assert session.recorder.keys() == [("Production", "a"), ("Production", "b")]
    session.close()  # no file: nothing to close, no error


def test_open_records_with_a_custom_name_and_cancel_counts(tmp_path: Path) -> None:
    session = RunSession()
    session.open_records(tmp_path / "nested", name="raw.jsonl")
    session.record(result())
    session.close()
    assert len(read_records(tmp_path / "nested" / "raw.jsonl").records) == 1
    session.cancel("Production", "orders")
    session.cancel("Production", "orders")
    session.cancel("Test", "chat")
    assert session.cancelled == {("Production", "orders"): 2, ("Test", "chat"): 1}
    assert session.recorder.overall(1.0)["streams"] == 1  # cancelled streams are not measured


def test_a_stream_ending_after_close_is_not_recorded(tmp_path: Path) -> None:
    """An interrupted run writes its summary while users still run: late streams are dropped."""
    session = RunSession()
    session.open_records(tmp_path)
    session.record(result())
    session.in_flight = 1  # counted as cancelled in the summary written at close
    session.close()
    late = session.record(result(flow="late"))  # must not raise on the closed file
    assert late["flow"] == "late"
    assert session.recorder.overall(1.0)["streams"] == 1
    assert len(read_records(tmp_path / "streams.jsonl").records) == 1
