"""harness.report.compare (+ compare_md, compare_html, write_comparison): real changes flagged.

The acceptance tests of the issue: identical runs → no significant change; TTFI shifted by 30 %
→ flagged.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.report import write_comparison
from harness.report.compare import ALL, RunComparison, compare_metric, compare_runs
from harness.report.load import load_run
from tests.test_report_fixtures import FIXTURES, synthetic_records, write_run


def two_runs(tmp_path: Path, factor: float, *, same_draws: bool = False) -> RunComparison:
    base = write_run(tmp_path / "base", synthetic_records(21, 600))
    new_records = synthetic_records(21 if same_draws else 22, 600, ttfi_factor=factor)
    new = write_run(tmp_path / "new", new_records)
    return compare_runs(load_run(base), load_run(new))


def metric(result: RunComparison, env: str, flow: str, name: str):  # type: ignore[no-untyped-def]
    scope = next(s for s in result.scopes if (s.env, s.flow) == (env, flow))
    return next(m for m in scope.metrics if m.metric == name)


def test_identical_runs_show_no_significant_change(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", synthetic_records(21, 600)))
    result = compare_runs(run, run)
    assert result.significant() == []
    for scope in result.scopes:
        for change in scope.metrics:
            assert change.verdict == "no significant change"
            assert change.test is not None
            assert change.test.p_value > 0.9


def test_same_distribution_new_draws_show_no_significant_ttfi_change(tmp_path: Path) -> None:
    result = two_runs(tmp_path, 1.0)
    change = metric(result, ALL, ALL, "ttfi_ms")
    assert not change.significant, change.verdict


def test_ttfi_shifted_by_30_percent_is_flagged(tmp_path: Path) -> None:
    result = two_runs(tmp_path, 1.3, same_draws=True)
    overall = metric(result, ALL, ALL, "ttfi_ms")
    assert overall.verdict == "slower"
    assert overall.test is not None
    assert overall.test.p_value < 1e-6
    p50 = overall.percentiles[0]
    assert p50.significant
    assert 0.25 < p50.relative < 0.35
    for env in ("Production", "Development"):
        assert metric(result, env, ALL, "ttfi_ms").verdict == "slower"
    flagged = {(s.env, s.flow, m.metric) for s, m in result.significant()}
    assert (ALL, ALL, "ttfi_ms") in flagged
    # Only TTFI moved: TTFB and the per-stream ITL are the same draws in both runs.
    assert not any(name in ("ttfb_ms", "itl_p50_ms") for _, _, name in flagged)


def test_a_faster_run_is_called_faster(tmp_path: Path) -> None:
    result = two_runs(tmp_path, 0.7, same_draws=True)
    assert metric(result, ALL, ALL, "ttfi_ms").verdict == "faster"


def test_thin_tails_are_not_judged() -> None:
    change = compare_metric([float(v) for v in range(1, 41)], [float(v) for v in range(2, 42)],
                            "ttfi_ms", "TTFI")  # fmt: skip
    assert change.judged == (True, False, False)  # 40 streams: p95 and p99 have < 5 beyond


def test_one_sided_metric_is_not_compared() -> None:
    change = compare_metric([], [1.0, 2.0], "ttfi_ms", "TTFI")
    assert change.test is None
    assert change.verdict.startswith("not compared")
    assert not change.significant


def test_write_comparison_outputs(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", synthetic_records(21, 600))
    new = write_run(tmp_path / "new", synthetic_records(21, 600, ttfi_factor=1.3))
    paths = write_comparison(base, new, tmp_path / "out")
    assert [p.name for p in paths] == ["comparison.html", "comparison.md"]
    html, md = (p.read_text(encoding="utf-8") for p in paths)
    assert re.search(
        r"Significant changes: TTFI slower \(median \+3\d\.\d%\) in \(all\)/\(all\)", md
    )
    assert "### TTFI" in md
    assert re.search(r"\| \(all\) \| \(all\) \| 600 → 600 \| .*\(\+3\d\.\d%\*\)", md)
    assert "<script" not in html
    assert 'id="plot-ttfi"' in html
    assert 'id="plot-duration"' in html
    assert html.count("<svg") == 2
    assert '<td class="text FAIL">slower</td>' in html


def test_fixture_compared_with_itself(tmp_path: Path) -> None:
    paths = write_comparison(FIXTURES / "v1", FIXTURES / "v1", tmp_path)
    md = paths[1].read_text(encoding="utf-8")
    assert "**No significant change.**" in md
    assert "n small" in md  # 8 streams: no tail can be judged
    assert "### ITL, every gap" in md
