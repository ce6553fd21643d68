"""harness.report.compare (+ compare_md, compare_html, write_comparison): real changes flagged.

Identical runs → no significant change; TTFI shifted by 30 % → flagged; a measurement drift
of a few ms → significant but below the minimum change, not reported; p-values corrected over
the whole comparison; untrustworthy runs warned about first. Real runs: test_report_compare_aa.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli.report import compare_main
from harness.report import write_comparison
from harness.report.compare.analysis import (
    ALL,
    CompareError,
    CompareOptions,
    RunComparison,
    compare_metric,
    compare_runs,
)
from harness.results.run_data import load_run
from harness.stats.significance import adjust_p_values
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run


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
        r"Significant changes: TTFI slower \(median \+3\d\.\d%, \d+ ms → \d+ ms\) in "
        r"\(all\)/\(all\)",
        md,
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


# --- multiple comparisons, minimum change, warnings ----------------------------------------


def _measurement_drift(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same streams measured again with the drift seen between two runs on one machine:
    TTFB +15.5 %, per-stream ITL +12.1 % (a few ms: not a change of the server)."""
    out = []
    for r in records:
        moved = dict(r)
        moved["ttfb_ms"] = round(r["ttfb_ms"] * 1.155, 3)
        moved["itl_p50_ms"] = round(r["itl_p50_ms"] * 1.121, 3)
        out.append(moved)
    return out


def test_measurement_drift_below_the_minimum_is_not_reported(tmp_path: Path) -> None:
    records = synthetic_records(21, 600)
    # TTFB 0.2-3 ms, per-stream ITL 10-45 ms: the drift moves them by 0.03-0.5 ms and 1-5 ms.
    records = [{**r, "ttfb_ms": round(r["ttfb_ms"] / 10, 3),
                "itl_p50_ms": round(r["itl_p50_ms"] / 2, 3)} for r in records]  # fmt: skip
    base = load_run(write_run(tmp_path / "base", records))
    new = load_run(write_run(tmp_path / "new", _measurement_drift(records)))
    result = compare_runs(base, new)
    assert result.significant() == []
    ttfb = metric(result, ALL, ALL, "ttfb_ms")
    assert ttfb.test is not None
    assert ttfb.test_p < 0.001  # significant, even after the correction ...
    assert ttfb.verdict == "below the minimum change"  # ... but 0.2 ms is no change to report
    # Configurable: with no minimum, the same drift is reported.
    strict = compare_runs(base, new, CompareOptions(min_relative=0.0, min_absolute_ms=0.0))
    assert {(s.env, s.flow, m.metric) for s, m in strict.significant()} >= {
        (ALL, ALL, "ttfb_ms"),
        (ALL, ALL, "itl_p50_ms"),
    }


def test_every_test_is_corrected_as_one_family(tmp_path: Path) -> None:
    result = two_runs(tmp_path, 1.0)
    raw = [p for s in result.scopes for m in s.metrics for p in m.raw_p_values()]
    assert result.tests == len(raw) > 50
    corrected = [p for s in result.scopes for m in s.metrics for p in [m.test_p]]
    assert all(0.0 <= p <= 1.0 for p in corrected)
    holm = adjust_p_values(raw, "holm")
    firsts = [m.test_p for s in result.scopes for m in s.metrics if m.test is not None]
    assert firsts == [p for p, m in zip(holm, _u_positions(result), strict=True) if m]


def _u_positions(result: RunComparison) -> list[bool]:
    """Which entries of the family are U tests (the first of each metric's tests)."""
    marks: list[bool] = []
    for scope in result.scopes:
        for change in scope.metrics:
            raw = change.raw_p_values()
            marks += [True] + [False] * (len(raw) - 1) if raw else []
    return marks


def test_options_are_checked() -> None:
    for kwargs, message in (
        ({"alpha": 0.0}, "alpha must be"),
        ({"correction": "bonferroni"}, "unknown correction"),
        ({"min_relative": -0.1}, "minimum change must be >= 0"),
    ):
        with pytest.raises(CompareError, match=message):
            CompareOptions(**kwargs)


@pytest.mark.parametrize(
    ("base", "new", "large"),
    [(400.0, 441.0, True), (400.0, 439.0, False), (20.0, 29.0, False), (20.0, 31.0, True),
     (0.0, 10.0, True), (0.0, 9.0, False), (50.0, 50.0, False)],
)  # fmt: skip
def test_minimum_change_is_relative_and_absolute(base: float, new: float, large: bool) -> None:
    assert CompareOptions().large_enough(base, new) is large


@pytest.mark.parametrize(
    ("flag", "words"),
    [
        ({"generator_saturated": True}, "'s load generator was saturated"),
        ({"interrupted": True}, " was interrupted"),
        ({"degraded": True, "lost_workers": ["w1"]}, " lost worker(s)"),
    ],
)
def test_a_run_that_cannot_be_trusted_is_warned_about_first(
    tmp_path: Path, flag: dict[str, Any], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "base", synthetic_records(21, 300))
    new = write_run(tmp_path / "new", synthetic_records(22, 300))
    summary = orjson.loads((new / "summary.json").read_bytes())
    summary["run"].update(flag)
    (new / "summary.json").write_bytes(orjson.dumps(summary))
    assert compare_main([str(base), str(new), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"flowload compare: WARNING: The new run{words}" in out
    assert out.index("WARNING") < out.index("No significant change")
    md = (tmp_path / "out" / "comparison.md").read_text(encoding="utf-8")
    assert md.index("**Warning:**") < md.index("**No significant change.**")
    assert words in md
    html = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    assert '<p class="warn">' in html
    assert html.index('class="warn"') < html.index("No significant change")


def test_cli_prints_the_verdict_and_takes_the_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "base", synthetic_records(21, 600))
    new = write_run(tmp_path / "new", synthetic_records(21, 600, ttfi_factor=1.3))
    assert compare_main([str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "flowload compare: Significant changes: TTFI slower" in out
    assert "Holm-corrected p < 0.05 and a change of at least 10% and 10 ms" in out
    # A minimum above the 30 % shift: nothing to report.
    args = [str(base), str(new), "--min-change", "50", "--correction", "bh", "--alpha", "0.01"]
    assert compare_main(args) == 0
    out = capsys.readouterr().out
    assert "flowload compare: No significant change." in out
    assert "Benjamini-Hochberg-corrected p < 0.01 and a change of at least 50% and 10 ms" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alpha", "1.5"], "alpha must be between 0 and 1"),
        (["--min-change-ms", "-1"], "minimum change must be >= 0"),
        (["--correction", "none"], "invalid choice: 'none'"),
    ],
)
def test_bad_thresholds_are_one_line_exit_2(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compare_main([str(FIXTURES / "v1"), str(FIXTURES / "v1"), *args,
                         "--out", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
