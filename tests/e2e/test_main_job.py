"""The main job end to end: ``locust -f locustfiles/flow_stream.py`` as a subprocess."""

from __future__ import annotations

import statistics
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


def test_known_schedule_is_measured_within_5ms(tmp_path: Path, simulator: SimulatorProcess) -> None:
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
    for block in summary["by_env_flow"]:
        assert block["outcomes"]["ok"] == block["streams"] > 0
        assert block["items"] == 6 * block["streams"]
        assert abs(block["ttfi_ms"]["p50"] - 200) < 5, block["ttfi_ms"]
        assert abs(block["ttfi_ms"]["max"] - 200) < 15, block["ttfi_ms"]
        assert abs(block["itl_ms"]["p50"] - 100) < 5, block["itl_ms"]
        assert abs(block["itl_ms"]["p99"] - 100) < 10, block["itl_ms"]
    # Counts per env/flow match what the server says it sent, stream by stream.
    server = {r["job_id"]: r for r in load_jsonl(tmp_path / "server.jsonl") if r.get("job_id")}
    client = load_jsonl(report / "streams.jsonl")
    assert len(client) == summary["overall"]["streams"]
    for record in client:
        truth = server[record["job_id"]]
        assert truth["outcome"] == "ok"
        assert truth["env"] == record["env"]
        assert truth["items"] == record["items"] == 6
    assert sum(1 for r in server.values() if r["outcome"] == "ok") == len(client)
    # streams.jsonl agrees with the summary's percentiles.
    ttfis = [r["ttfi_ms"] for r in client]
    assert abs(statistics.median(ttfis) - summary["overall"]["ttfi_ms"]["p50"]) < 2


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
