"""``flowload compare`` on real runs: an A/A test (nothing reported) and an A/B test (TTFI doubled).

The runs are real streams from the harness library (no Locust) against real seeded simulators
(``tests/library_runs.py``, ``tests/twin_simulators.py``), made once for the module: 20 pairs of
runs of one seeded scenario, and a run of the same scenario with every TTFI doubled.
"""

from __future__ import annotations

import pytest

from harness.report.compare.analysis import ALL, RunComparison, compare_runs
from harness.results.run_data import RunData, load_run
from harness.simulator import SimulatorProcess
from tests.library_runs import profile, record_runs, resolve
from tests.twin_simulators import TwinSimulators

PAIRS = 20
STREAMS = 120  # per run: 30 per (env, flow)
USERS = 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[RunData]]:
    """20 A/A pairs, and an A/B pair whose new run has every TTFI doubled.

    A/A: twin simulators (same profile and seed, one process and event loop): run i against
    each draws the same streams (the i-th of the seeded sequence), so a pair differs only by
    what the measurement adds, as two runs of a seeded scenario do. A pair's runs are made side
    by side, so that a busy moment of the shared machine delays both alike (runs made at
    different times would differ by it, really, and a comparison would rightly say so).
    """
    tmp = tmp_path_factory.mktemp("compare-aa")
    same, doubled = tmp / "same.toml", tmp / "doubled.toml"
    same.write_text(profile(1.0), encoding="utf-8")
    doubled.write_text(profile(2.0), encoding="utf-8")
    with (
        TwinSimulators(same, seed=11, count=2) as twins,
        SimulatorProcess(["--seed", "11", "--profile", str(doubled)]) as sim_ttfi,
    ):
        a, b = (resolve(url) for url in twins.urls)
        ttfi = resolve(sim_ttfi.url)
        first = [(a, tmp / "a-0"), (b, tmp / "b-0"), (ttfi, tmp / "ttfi-doubled")]
        dirs = record_runs(first, streams=STREAMS, users=USERS)
        for i in range(1, PAIRS):
            pair = [(a, tmp / f"a-{i}"), (b, tmp / f"b-{i}")]
            dirs += record_runs(pair, streams=STREAMS, users=USERS)
    loaded = [load_run(d) for d in dirs]
    return {"same": loaded[:2] + loaded[3:], "ab": [loaded[0], loaded[2]]}


def _reported(result: RunComparison) -> list[str]:
    out = []
    for scope, change in result.significant():
        test = change.test
        medians = "" if test is None else f" median {test.base_median:.1f} → {test.new_median:.1f}"
        tails = [f"p{p.q * 100:g} {p.base:.1f} → {p.new:.1f}" for p in change.percentiles]
        out.append(f"{scope.env}/{scope.flow} {change.metric} {change.verdict}:{medians}, {tails}")
    return out


def test_a_a_runs_show_nothing_in_20_of_20_pairs(runs: dict[str, list[RunData]]) -> None:
    same = runs["same"]
    for run in same:
        assert len(run.records) == STREAMS
        assert all(r.outcome == "ok" for r in run.records)
    results = [compare_runs(same[2 * i], same[2 * i + 1]) for i in range(PAIRS)]
    false_alarms = {i: found for i, r in enumerate(results) if (found := _reported(r))}
    assert false_alarms == {}
    # Every scope, metric and judged percentile was corrected as one family.
    assert min(r.tests for r in results) >= 50


def test_a_b_ttfi_doubled_is_reported(runs: dict[str, list[RunData]]) -> None:
    base, doubled = runs["ab"]
    result = compare_runs(base, doubled)
    reported = {(s.env, s.flow, m.metric): m for s, m in result.significant()}
    for env in (ALL, "Production", "Development"):
        change = reported[(env, ALL, "ttfi_ms")]
        assert change.verdict == "slower"
        assert change.test is not None
        assert 0.7 < change.test.effect < 1.3, change.test.effect  # the median about doubled
    # Only TTFI (and with it the stream duration) moved.
    assert {metric for _, _, metric in reported} <= {"ttfi_ms", "duration_ms"}
