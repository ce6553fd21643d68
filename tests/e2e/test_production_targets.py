"""A production target through a real Locust run: failing targets, proxies, mTLS, redirects.

Each case runs ``locust`` as a subprocess against real servers on loopback ports the OS chose
(the simulator, proxy.py, small servers from tests/intermediaries.py) and checks the outcome,
the message, and how many requests the server saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import FLOWS, free_port, load_json, load_jsonl, run_locust
from tests.intermediaries import BufferingProxy, ForwardProxy, Http2OnlyServer, Pki, make_pki
from tests.servers import Close, RecordedRequest, Script, ScriptedServer, content_length

KEY = "prod-e2e-key-5b1d9c7e"
PROXY_PASSWORD = "proxy-secret-77d3a1"  # noqa: S105 - a test credential, searched for in outputs


def scenario(
    tmp: Path, url: str, *, flow: str = "orders", headers: str = "", extra: str = ""
) -> Path:
    path = tmp / "scenario.toml"
    path.write_text(
        f"""
[target]
url = "{url}"
tenant = "acme"
workspace = "sales"
api_key_env = "PROD_E2E_KEY"
stall_timeout_s = 10
{extra}

[[envs]]
name = "Production"

[[flows]]
name = "{flow}"
id = "{FLOWS["orders-export"]}"
{headers}
""",
        encoding="utf-8",
    )
    return path


PACED = (
    'headers = { "x-flowload-items" = "5", "x-flowload-ttfi-ms" = "50", '
    '"x-flowload-gap-ms" = "40" }'
)


def locust(
    tmp: Path, scenario_path: Path, *args: str, env: dict[str, str] | None = None, secs: int = 4
) -> tuple[int, str, dict[str, Any], list[dict[str, Any]], float]:
    """Run headless; (exit code, all output, summary, records, seconds it took)."""
    report = tmp / "report"
    started = time.perf_counter()
    proc = run_locust(
        [
            *("--headless", "-u", "2", "-r", "2", "-t", f"{secs}s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario_path), "--report-dir", str(report), *args),
        ],
        cwd=tmp,
        env={"PROD_E2E_KEY": KEY, **(env or {})},
        timeout_s=90,
    )
    took = time.perf_counter() - started
    summary = load_json(report / "summary.json")
    return (
        proc.returncode,
        proc.stdout + proc.stderr,
        summary,
        load_jsonl(report / "streams.jsonl"),
        took,
    )


def all_output(tmp: Path, console: str) -> str:
    """The console and every file the run wrote."""
    files = [p.read_text("utf-8", "replace") for p in (tmp / "report").iterdir() if p.is_file()]
    return console + "".join(files)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


# --- a target that cannot succeed ----------------------------------------------------------------


def test_a_wrong_key_stops_the_run_within_seconds(tmp_path: Path) -> None:
    log = tmp_path / "server.jsonl"
    with SimulatorProcess(["--log", str(log)], api_key="the-right-key-123") as sim:
        code, out, summary, records, took = locust(tmp_path, scenario(tmp_path, sim.url), secs=20)
    assert code == 3, out[-2000:]
    assert took < 15
    assert "the first 3 streams of Production" in out
    assert "the API key was refused" in out
    assert summary["run"]["stopped_early"]
    requests = load_jsonl(log)
    assert len(requests) == len(records) < 2 * 50
    assert KEY not in all_output(tmp_path, out)


def test_a_closed_port_stops_the_run_within_seconds(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, _, records, took = locust(tmp_path, scenario(tmp_path, url), secs=20)
    assert code == 3, out[-2000:]
    assert took < 15
    assert "nothing listens there" in out
    assert len(records) < 2 * 50


def test_without_fail_fast_a_failing_target_is_not_hammered(tmp_path: Path) -> None:
    # For testing error paths: the run goes on, but each user backs off (0.5 s, 1 s, 2 s ...).
    url = f"http://127.0.0.1:{free_port()}"
    code, out, summary, records, took = locust(
        tmp_path, scenario(tmp_path, url), "--no-fail-fast", secs=6
    )
    assert code == 1, out[-2000:]  # Locust's own code: streams failed
    assert took >= 6
    assert summary["overall"]["outcomes"]["connect_error"] == len(records)
    assert len(records) <= 2 * 6  # two users, each at most ~4 attempts in 6 s (it was ~7,000)


# --- forward proxies -----------------------------------------------------------------------------


def test_https_through_a_forward_proxy_with_credentials(tmp_path: Path, pki: Pki) -> None:
    log = tmp_path / "server.jsonl"
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    with (
        SimulatorProcess(["--log", str(log), *tls], api_key=KEY) as sim,
        ForwardProxy(tmp_path, user="loadtest", password=PROXY_PASSWORD) as proxy,
    ):
        proxy_url = f"http://loadtest:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
        code, out, summary, records, _ = locust(
            tmp_path,
            scenario(tmp_path, sim.url, headers=PACED),
            "--ca-bundle", str(pki.ca),
            env={"HTTPS_PROXY": proxy_url},
        )  # fmt: skip
        proxy_log = proxy.log.read_text("utf-8", "replace")
    assert code == 0, out[-3000:]
    assert records
    assert all(r["outcome"] == "ok" for r in records)
    assert len(load_jsonl(log)) == len(records)
    assert "CONNECT" in proxy_log  # the streams went through the tunnel
    assert summary["run"]["clock"]["used"] == "kernel"  # stamps through the tunnel too
    text = all_output(tmp_path, out)
    assert PROXY_PASSWORD not in text
    assert KEY not in text


def test_wrong_proxy_credentials_stop_the_run_naming_the_proxy(tmp_path: Path) -> None:
    with (
        SimulatorProcess([], api_key=KEY) as sim,
        ForwardProxy(tmp_path, user="loadtest", password=PROXY_PASSWORD) as proxy,
    ):
        proxy_url = f"http://loadtest:not-{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
        code, out, _, _, _ = locust(
            tmp_path, scenario(tmp_path, sim.url), "--proxy", proxy_url, secs=20
        )
    assert code == 3, out[-3000:]
    assert f"proxy 127.0.0.1:{proxy.port}" in out
    assert "the proxy wants credentials" in out
    assert PROXY_PASSWORD not in all_output(tmp_path, out)


def test_plain_http_goes_through_the_proxy_unless_no_proxy_says_otherwise(
    tmp_path: Path,
) -> None:
    with (
        SimulatorProcess([], api_key=KEY) as sim,
        ForwardProxy(tmp_path, user="u", password=PROXY_PASSWORD) as proxy,
    ):
        via = {"HTTP_PROXY": f"http://u:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"}
        code, out, _, records, _ = locust(
            tmp_path, scenario(tmp_path, sim.url, headers=PACED), env=via, secs=3
        )
        port = sim.url.rsplit(":", 1)[1]
        access = proxy.log.read_text("utf-8", "replace")
        assert code == 0, out[-3000:]
        assert records
        # proxy.py's access log: a line per kept-alive connection it forwarded (absolute form).
        assert access.count(f"POST 127.0.0.1:{port}/api/v1/") >= 1
        assert all(r["outcome"] == "ok" for r in records)
    # A proxy that does not exist, bypassed by NO_PROXY: the streams go direct.
    dead = {"HTTP_PROXY": f"http://127.0.0.1:{free_port()}", "NO_PROXY": "localhost,127.0.0.1"}
    with SimulatorProcess([], api_key=KEY) as sim:
        code, out, _, records, _ = locust(
            tmp_path, scenario(tmp_path, sim.url, headers=PACED), env=dead, secs=3
        )
    assert code == 0, out[-3000:]
    assert records
    assert all(r["outcome"] == "ok" for r in records)


# --- client certificates -------------------------------------------------------------------------


@pytest.fixture
def mtls_simulator(pki: Pki) -> Iterator[SimulatorProcess]:
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    with SimulatorProcess([*tls, "--tls-client-ca", str(pki.ca)], api_key=KEY) as sim:
        yield sim


def test_a_server_that_wants_a_client_certificate_says_so(
    tmp_path: Path, pki: Pki, mtls_simulator: SimulatorProcess
) -> None:
    path = scenario(tmp_path, mtls_simulator.url)
    code, out, summary, _, _ = locust(tmp_path, path, "--ca-bundle", str(pki.ca), secs=20)
    assert code == 3, out[-3000:]
    assert "requires a client certificate" in out
    assert "--client-cert" in out
    assert summary["overall"]["outcomes"]["connect_error"] >= 3


def test_mutual_tls_with_the_client_certificate(
    tmp_path: Path, pki: Pki, mtls_simulator: SimulatorProcess
) -> None:
    path = scenario(
        tmp_path,
        mtls_simulator.url,
        headers=PACED,
        extra=f'client_cert = "{pki.client_cert}"\nclient_key = "{pki.client_key}"',
    )
    code, out, _, records, _ = locust(tmp_path, path, "--ca-bundle", str(pki.ca))
    assert code == 0, out[-3000:]
    assert records
    assert all(r["outcome"] == "ok" for r in records)
    assert "PRIVATE KEY" not in all_output(tmp_path, out)


def test_a_ca_bundle_without_certificates_is_refused_at_start(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n", encoding="utf-8")
    proc = run_locust(
        [
            *("--headless", "-u", "1", "-t", "2s", "--ca-bundle", str(empty)),
            *("--flow-config", str(scenario(tmp_path, "https://127.0.0.1:9"))),
        ],
        cwd=tmp_path,
        env={"PROD_E2E_KEY": KEY},
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "holds no PEM certificate" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- what the network does to streams ------------------------------------------------------------


def test_redirects_are_followed_counted_and_named(tmp_path: Path) -> None:
    with SimulatorProcess([], api_key=KEY) as sim:

        def gateway(request: RecordedRequest) -> Script:
            return content_length(
                [(0.0, b"moved")], status=307, headers=[("Location", sim.url + request.target)]
            )

        with ScriptedServer(gateway) as front:
            # The key in the query: the redirect keeps it (in a header it would stay home).
            path = scenario(
                tmp_path, front.url().rstrip("/"), headers=PACED, extra='auth = "query"'
            )
            code, out, summary, records, _ = locust(tmp_path, path)
    assert code == 0, out[-3000:]
    assert records
    assert all(r["outcome"] == "ok" and r["redirects"] == 1 for r in records)
    assert summary["run"]["redirects"]["streams"] == len(records)
    assert "were redirected, to http://127.0.0.1:" in out
    assert KEY not in all_output(tmp_path, out)


def test_a_request_the_server_read_and_dropped_is_not_sent_again(tmp_path: Path) -> None:
    # Every request on a kept-alive connection is read, then dropped.
    with SimulatorProcess([], api_key=KEY) as sim:

        def dropper(request: RecordedRequest) -> Script:
            if request.nth_on_connection > 1:
                return [Close()]
            return content_length([(0.0, b'[{"i":1},{"i":2}]')])

        with ScriptedServer(dropper) as srv:
            code, out, summary, records, _ = locust(
                tmp_path, scenario(tmp_path, srv.url().rstrip("/"))
            )
            seen = len(srv.requests)
    del sim
    assert records
    cancelled = summary["run"]["cancelled_streams"]
    # One request per stream (a stream cut by the stop counts too): nothing was sent twice.
    assert seen == len(records) + cancelled, (seen, len(records), cancelled)
    dropped = [r for r in records if r["outcome"] == "truncated"]
    assert dropped
    assert all("not sent again" in (r["error"] or "") for r in dropped)
    assert all(r["resent"] == 0 for r in records)
    assert code == 1, out[-2000:]


def test_an_http2_only_server_is_named_as_such(tmp_path: Path) -> None:
    with Http2OnlyServer() as server:
        code, out, summary, _, _ = locust(tmp_path, scenario(tmp_path, server.url), secs=20)
    assert code == 3, out[-3000:]
    assert "speaks only HTTP/2" in out
    assert summary["overall"]["outcomes"]["protocol_error"] >= 3
    assert summary["overall"]["outcomes"]["malformed"] == 0


def test_a_body_held_back_by_an_intermediary_is_flagged(tmp_path: Path) -> None:
    slow = (
        'headers = { "x-flowload-items" = "8", "x-flowload-ttfi-ms" = "100", '
        '"x-flowload-gap-ms" = "60" }'
    )
    with SimulatorProcess([], api_key=KEY) as sim, BufferingProxy(sim.url) as proxy:
        code, out, summary, records, _ = locust(
            tmp_path, scenario(tmp_path, proxy.url, headers=slow)
        )
    assert code == 0, out[-3000:]
    assert records
    assert all(r["buffered"] for r in records if r["outcome"] == "ok")
    block = summary["by_env_flow"][0]
    assert block["buffered_streams"] == block["outcomes"]["ok"] > 0
    assert "held the body back" in out
