"""The main job end to end: ``locust -f locustfiles/flow_stream.py`` as a subprocess."""

from __future__ import annotations

import itertools
from pathlib import Path

from harness.simulator import SimulatorProcess
from tests.e2e.conftest import (
    E2E_KEY,
    FLOWS,
    load_json,
    load_jsonl,
    port_is_closed,
    run_locust,
    scenario_file,
)


def test_no_host_no_config_runs_the_bundled_simulator(tmp_path: Path) -> None:
    proc = run_locust(["--headless", "-u", "5", "-r", "5", "-t", "5s"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = list((tmp_path / "reports").glob("*/summary.json"))
    assert len(summaries) == 1, proc.stderr[-2000:]
    summary = load_json(summaries[0])
    assert summary["schema"] == "flowload.summary/1"
    assert set(summary["by_env"]) == {"Development", "Test", "Production"}
    assert summary["overall"]["streams"] > 0
    assert summary["run"]["embedded_simulator"] is True
    assert "started the bundled Flow simulator" in proc.stderr
    assert "flowload streaming summary" in proc.stdout
    records = load_jsonl(summaries[0].parent / "streams.jsonl")
    assert len(records) == summary["overall"]["streams"]
    assert port_is_closed(summary["run"]["host"]), "the simulator outlived locust"


PACED = """
[[flows]]
name = "paced"
id = "{orders}"
headers = {{ "x-flowload-items" = "6", "x-flowload-ttfi-ms" = "200", "x-flowload-gap-ms" = "100" }}
"""


def _gaps_ms(sent_at: list[float]) -> list[float]:
    return sorted((b - a) * 1000.0 for a, b in itertools.pairwise(sent_at))


def test_item_times_match_the_servers_send_times_beside_busy_cpus(
    tmp_path: Path, simulator: SimulatorProcess, cpu_hogs: list[object]
) -> None:
    # Every CPU is busy with another process: the harness and the simulator wait for CPUs, and
    # bytes are read late. Item times must still be the times the server sent them (its log).
    scenario = scenario_file(tmp_path, simulator.url, PACED.format(orders=FLOWS["orders-export"]))
    report = tmp_path / "report"
    proc = run_locust(
        [
            *("--headless", "-u", "2", "-r", "2", "-t", "4s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--report-dir", str(report)),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = load_json(report / "summary.json")
    assert summary["run"]["cancelled_streams"] == 0
    assert summary["run"]["clock"]["used"] == "kernel"
    assert summary["run"]["error_bound"]["items"] == summary["overall"]["items"]
    server = {r["job_id"]: r for r in load_jsonl(tmp_path / "server.jsonl") if r.get("job_id")}
    client = load_jsonl(report / "streams.jsonl")
    assert len(client) == summary["overall"]["streams"] > 0
    all_gaps: list[float] = []
    for record in client:
        truth = server[record["job_id"]]
        assert truth["outcome"] == record["outcome"] == "ok"
        assert truth["items"] == record["items"] == len(truth["sent_at"]) == 6
        gaps = _gaps_ms(truth["sent_at"])
        all_gaps += gaps
        # streams.jsonl: the lower median and the largest gap, against the server's own.
        assert abs(record["itl_p50_ms"] - gaps[(len(gaps) - 1) // 2]) < 2.0, (record, gaps)
        assert abs(record["itl_max_ms"] - gaps[-1]) < 2.0, (record, gaps)
        # TTFI counts from the request start, before connecting: never less than the server's.
        server_ttfi = (truth["sent_at"][0] - truth["request_at"]) * 1000.0
        assert server_ttfi <= record["ttfi_ms"] < server_ttfi + 25.0, (record, server_ttfi)
    all_gaps.sort()
    p99 = all_gaps[min(len(all_gaps) - 1, round(0.99 * (len(all_gaps) - 1)))]
    assert abs(summary["overall"]["itl_ms"]["p99"] - p99) < 2.0, (summary["overall"]["itl_ms"], p99)
    assert sum(1 for r in server.values() if r["outcome"] == "ok") == len(client)


FAULTS = """
[[flows]]
name = "reset"
id = "{orders}"
headers = {{ "x-flowload-fault" = "reset:after=2", "x-flowload-gap-ms" = "20" }}

[[flows]]
name = "malformed"
id = "{chat}"
headers = {{ "x-flowload-fault" = "malformed:at=1", "x-flowload-gap-ms" = "20" }}

[[flows]]
name = "unavailable"
id = "{report}"
headers = {{ "x-flowload-fault" = "status:503" }}
"""


def test_faults_are_classified(tmp_path: Path, simulator: SimulatorProcess) -> None:
    flows = FAULTS.format(
        orders=FLOWS["orders-export"], chat=FLOWS["chat-answer"], report=FLOWS["report-build"]
    )
    scenario = scenario_file(tmp_path, simulator.url, flows)
    report = tmp_path / "report"
    proc = run_locust(
        [
            *("--headless", "-u", "3", "-r", "3", "-t", "3s", "--stop-timeout", "5"),
            *("--flow-config", str(scenario), "--report-dir", str(report)),
            *("--flow-env", "Production"),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
    )
    # Failed streams are Locust failures: Locust's own exit code for errors.
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = load_json(report / "summary.json")
    assert list(summary["by_env"]) == ["Production"]
    expected = {"reset": "truncated", "malformed": "malformed", "unavailable": "http_error"}
    for block in summary["by_env_flow"]:
        outcome = expected[block["flow"]]
        assert block["streams"] > 0
        assert block["outcomes"][outcome] == block["streams"], (block["flow"], block["outcomes"])
    assert "http_error: " in proc.stderr or "http_error" in proc.stdout
    assert E2E_KEY not in proc.stdout + proc.stderr


LONG_PACED = """
[[flows]]
name = "paced"
id = "{orders}"
headers = {{ "x-flowload-items" = "30", "x-flowload-ttfi-ms" = "100", "x-flowload-gap-ms" = "100" }}
"""


def _first_starts(tmp_path: Path, simulator: SimulatorProcess, *spread: str) -> list[float]:
    """Start times ("t") of the 20 users' first streams (3 s each: longer than any spread)."""
    flows = LONG_PACED.format(orders=FLOWS["orders-export"])
    scenario = scenario_file(tmp_path, simulator.url, flows)
    report = tmp_path / "report"
    proc = run_locust(
        [
            *("--headless", "-u", "20", "-r", "20", "-t", "2s", "--stop-timeout", "6"),
            *("--flow-config", str(scenario), "--report-dir", str(report), *spread),
        ],
        cwd=tmp_path,
        env={"E2E_FLOW_KEY": E2E_KEY},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    starts = sorted(r["t"] for r in load_jsonl(report / "streams.jsonl"))
    assert len(starts) == 20, starts
    return starts


def test_a_batch_of_users_spreads_its_first_streams(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    # Locust starts all 20 users at once; by default their first streams spread over 1 s.
    # (20 uniform draws span < 0.3 s with probability ~2e-9.)
    starts = _first_starts(tmp_path, simulator)
    assert 0.3 < starts[-1] - starts[0] < 1.5, starts


def test_spawn_spread_zero_starts_a_batch_together(
    tmp_path: Path, simulator: SimulatorProcess
) -> None:
    starts = _first_starts(tmp_path, simulator, "--flow-spawn-spread", "0")
    assert starts[-1] - starts[0] < 0.25, starts
