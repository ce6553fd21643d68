"""Fault matrix end to end: every simulator fault at a few dozen concurrent streams.

One locust run carries one flow per fault (and an env with tiny capacity for 429s), so the whole
matrix costs one run. Each stream must get exactly one outcome, the summary must agree with the
raw records, the records with the server's own log (matched by job id), no greenlet may die,
and the run must end on time. Network failures (DNS, refused, TLS) need their own targets.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import E2E_KEY, load_json, load_jsonl, run_locust
from tests.e2e.tls import make_certificate
from tests.servers import ScriptedServer, chunked

FLOW_ID = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"
LIMIT_S = "3"
PROFILE = f"""
[envs.Production]
slots = 500
queue = 500

[envs.Test]
slots = 2
queue = 0
reject_status = 429
retry_after_s = 2

[[flows]]
name = "f"
id = "{FLOW_ID}"
ttfi_ms = 50
gap_ms = 20
items = 5
item_bytes = 100
"""

# When the client gives up mid-stream, the server logs client_gone if a later write fails, or its
# fault's own outcome if the rest of the stream fitted in the socket buffers first.
GONE = "client_gone"

# flow name -> (extra TOML for the flow, client outcome, server log outcomes allowed)
MATRIX: dict[str, tuple[str, str, set[str]]] = {
    "ok": ("", "ok", {"ok"}),
    "status500": ('"x-flowload-fault" = "status:500"', "http_error", {"http_error"}),
    "reset": ('"x-flowload-fault" = "reset:after=2"', "truncated", {"reset"}),
    "truncate": ('"x-flowload-fault" = "truncate:after=2"', "truncated", {"truncated"}),
    "malformed": ('"x-flowload-fault" = "malformed:at=1"', "malformed", {"malformed", GONE}),
    # The client gives up after --stall-timeout 1 s; the server would pause 2.5 s.
    "stall": ('"x-flowload-fault" = "stall:2.5:after=1"', "stalled", {"stalled", GONE}),
    "trickle": (
        (
            '"x-flowload-fault" = "trickle:byte_ms=1", "x-flowload-items" = "3", '
            '"x-flowload-item-bytes" = "40"'
        ),
        "ok",
        {"trickle"},
    ),
    # max_item_bytes = 50000 below: the reader refuses the item long before it ends.
    "oversized": (
        '"x-flowload-fault" = "oversized:bytes=200000:at=1"',
        "malformed",
        {"oversized", GONE},
    ),
    "over_limit": (
        (
            '"x-flowload-fault" = "over_limit:by=1.5", "x-flowload-items" = "200", '
            '"x-flowload-gap-ms" = "50"'
        ),
        "limit_exceeded",
        {"over_limit", GONE},
    ),
    "cut_at_limit": (
        '"x-flowload-items" = "200", "x-flowload-gap-ms" = "50"',
        "limit_exceeded",
        {"cut_at_limit"},
    ),
}


def _matrix_scenario(url: str) -> str:
    flows = []
    for name, (headers, _client, _server) in MATRIX.items():
        extra = "max_item_bytes = 50000\n" if name == "oversized" else ""
        flows.append(
            f'[[flows]]\nname = "{name}"\nid = "{FLOW_ID}"\n{extra}headers = {{ {headers} }}\n'
        )
    return f"""
[target]
url = "{url}"
tenant = "acme"
workspace = "sales"
api_key_env = "E2E_FLOW_KEY"

[[envs]]
name = "Production"

[[envs]]
name = "Test"
weight = 0.2

{"".join(flows)}
"""


def assert_clean_run(proc: Any, summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Every stream has one outcome, summary == records, nothing cancelled, no greenlet died."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Unhandled exception" not in proc.stderr, proc.stderr[-3000:]
    assert summary["run"]["cancelled_streams"] == 0
    assert summary["run"]["interrupted"] is False
    overall = summary["overall"]
    assert overall["streams"] == len(records) > 0
    assert sum(overall["outcomes"].values()) == overall["streams"]
    by_key = Counter((r["env"], r["flow"], r["outcome"]) for r in records)
    for block in summary["by_env_flow"]:
        for outcome, count in block["outcomes"].items():
            assert by_key[(block["env"], block["flow"], outcome)] == count, (block, outcome)
    assert sum(by_key.values()) == sum(b["streams"] for b in summary["by_env_flow"])


@pytest.fixture
def matrix_simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """A simulator with a tiny-capacity Test env and a 3 s execution limit."""
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    args = ["--log", str(tmp_path / "server.jsonl"), "--limit", LIMIT_S, "--seed", "7"]
    sim = SimulatorProcess([*args, "--profile", str(profile)], api_key=E2E_KEY)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_every_simulator_fault_gets_exactly_one_outcome(
    tmp_path: Path, matrix_simulator: SimulatorProcess
) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(_matrix_scenario(matrix_simulator.url), encoding="utf-8")
    report = tmp_path / "report"
    started = time.perf_counter()
    proc = run_locust(
        [
            *("--headless", "-u", "24", "-r", "24", "-t", "4s", "--stop-timeout", "10"),
            *("--flow-config", str(scenario), "--report-dir", str(report)),
            *("--stall-timeout", "1", "--limit", LIMIT_S),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
        timeout_s=90,
    )
    elapsed = time.perf_counter() - started
    # 4 s of load + at most limit + grace (8 s) for the last streams + start/stop overhead.
    assert elapsed < 45, elapsed
    assert proc.returncode == 1, proc.stderr[-3000:]  # failed streams: Locust's exit code 1
    summary = load_json(report / "summary.json")
    records = load_jsonl(report / "streams.jsonl")
    assert_clean_run(proc, summary, records)
    server = load_jsonl(tmp_path / "server.jsonl")
    # Every request the server saw is one client record, and the other way round.
    assert len(server) == len(records)
    by_job = {r["job_id"]: r for r in server if r.get("job_id")}
    rejected = 0
    for record in records:
        if record["status"] == 429:  # capacity: the server answered before any job existed
            assert record["env"] == "Test", record
            assert record["outcome"] == "http_error", record
            rejected += 1
            continue
        _headers, client_outcome, server_outcomes = MATRIX[record["flow"]]
        assert record["outcome"] == client_outcome, record
        truth = by_job[record["job_id"]]
        assert truth["env"] == record["env"]
        assert truth["outcome"] in server_outcomes, (record, truth)
    server_counts = Counter(r["outcome"] for r in server)
    assert rejected == server_counts["rejected_429"] > 0, server_counts
    assert sum(1 for r in records if r["job_id"] in by_job) == len(by_job)
    flows_seen = {r["flow"] for r in records if r["env"] == "Production"}
    assert flows_seen == set(MATRIX), flows_seen


NETWORK_FLOW = """
[[flows]]
name = "f"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"
"""


def _network_run(tmp_path: Path, url: str, *extra: str) -> tuple[Any, dict[str, Any], list[Any]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f'[target]\nurl = "{url}"\ntenant = "acme"\nworkspace = "sales"\n'
        f'api_key_env = "E2E_FLOW_KEY"\n\n[[envs]]\nname = "Production"\n{NETWORK_FLOW}',
        encoding="utf-8",
    )
    report = tmp_path / "report"
    started = time.perf_counter()
    proc = run_locust(
        [
            *("--headless", "-u", "24", "-r", "24", "-t", "2s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--report-dir", str(report), *extra),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
        timeout_s=60,
    )
    assert time.perf_counter() - started < 30
    summary = load_json(report / "summary.json")
    return proc, summary, load_jsonl(report / "streams.jsonl")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: nothing listens there


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("nonexistent.invalid", "dns"),
        ("flowload-test.example.invalid", "dns"),
        ("127.0.0.1:{closed}", "refused"),
    ],
)
def test_network_failures_are_connect_errors(tmp_path: Path, host: str, kind: str) -> None:
    url = "http://" + host.format(closed=_closed_port())
    proc, summary, records = _network_run(tmp_path, url)
    # The first streams all failed the same configuration-class way: the run stops early.
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Stopping the run (exit 3)" in proc.stderr
    assert_clean_run(proc, summary, records)
    assert summary["overall"]["outcomes"]["connect_error"] == len(records)
    assert all(f"connect ({kind})" in r["error"] for r in records), records[0]


def test_tls_failure_and_the_ways_to_trust_a_server(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    body = chunked([(0.0, b'[{"a":1}'), (0.01, b',{"a":2}]')], headers=[("flow-job-id", "j")])
    with ScriptedServer(body, tls=context) as server:
        url = server.url().rstrip("/")
        # Verification is on by default: a self-signed certificate is a connect error "tls".
        proc, summary, records = _network_run(tmp_path / "verify", url)
        assert proc.returncode == 3, proc.stderr[-3000:]
        assert "Stopping the run (exit 3)" in proc.stderr
        assert_clean_run(proc, summary, records)
        assert all(r["outcome"] == "connect_error" for r in records)
        assert all("connect (tls)" in r["error"] for r in records), records[0]
        # --insecure: works, with a warning.
        proc, summary, records = _network_run(tmp_path / "insecure", url, "--insecure")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "TLS certificates are NOT verified" in proc.stderr
        assert_clean_run(proc, summary, records)
        assert summary["overall"]["outcomes"]["ok"] == len(records)
        # --ca-bundle: verified against the given CA, no warning.
        proc, summary, records = _network_run(tmp_path / "ca", url, "--ca-bundle", str(cert))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "NOT verified" not in proc.stderr
        assert_clean_run(proc, summary, records)
        assert summary["overall"]["outcomes"]["ok"] == len(records)
