"""harness.report.run.plots: every plot is drawn from real data, small, and honest about gaps."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harness.capacity.run_analysis import analyse_run
from harness.config import loads_scenario
from harness.report.capacity.render import render_capacity_html
from harness.report.compare.analysis import compare_runs
from harness.report.compare.html import render_comparison_html
from harness.report.render.colours import env_colour
from harness.report.render.plot import CDF_POINTS, cdf_points
from harness.report.run.plots import PLOT_KEYS, build_plots
from harness.results.run_data import load_run
from tests.report.capacity.test_render import _summary as _capacity_summary
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run


def test_fixture_run_has_every_plot() -> None:
    plots = build_plots(load_run(FIXTURES / "v1"))
    assert [p.key for p in plots] == list(PLOT_KEYS)
    for plot in plots:
        assert plot.svg is not None, plot.key
        assert plot.svg.startswith("<svg"), plot.key
        assert "<script" not in plot.svg
        # No external reference: only the SVG namespaces may name a URL.
        urls = set(re.findall(r'"(https?://[^"]+)"', plot.svg))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_plots_show_the_runs_envs_and_limit() -> None:
    plots = {p.key: p.svg or "" for p in build_plots(load_run(FIXTURES / "v1"))}
    for env in ("Development", "Production", "Test"):
        assert env in plots["ttfi"]
        assert env in plots["itl"]
    assert "limit 300 s" in plots["limit"]
    assert "headroom" in plots["limit"]
    assert "ok" in plots["outcomes"]


def test_without_records_the_record_plots_are_missing_not_invented(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "v1" / "summary.json", tmp_path / "summary.json")
    plots = {p.key: p for p in build_plots(load_run(tmp_path))}
    assert plots["itl"].svg is not None  # from the summary
    for key in ("ttfi", "duration", "limit", "throughput", "active", "ttfi-time", "outcomes"):
        assert plots[key].svg is None, key


def test_plot_size_stays_bounded_for_many_records(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, synthetic_records(8, 10_000, span_s=600.0)))
    plots = build_plots(run)
    sizes = {p.key: len(p.svg or "") for p in plots}
    assert all(sizes.values()), sizes
    assert max(sizes.values()) < 40_000, sizes


@given(st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=2000))
def test_cdf_points_are_a_thinned_monotone_cdf(values: list[float]) -> None:
    xs, ys = cdf_points(values)
    assert len(xs) == len(ys) <= CDF_POINTS
    assert xs == sorted(xs)
    assert ys == sorted(ys)
    assert xs[0] == min(values)
    assert xs[-1] == max(values)
    assert ys[-1] == 1.0


def test_report_comparison_and_capacity_pages_draw_an_env_in_one_colour(tmp_path: Path) -> None:
    # The run lists Development first, the comparison sees Production's records first, and the
    # capacity analysis has Production only: Production is drawn in the same colour on all.
    production = env_colour("Production")
    records = synthetic_records(4, 200, envs=("Development", "Production"))
    run = load_run(write_run(tmp_path / "run", records))
    assert run.envs[0] == "Development"
    report = "".join(p.svg or "" for p in build_plots(run))
    assert production in report
    only_prod = load_run(
        write_run(tmp_path / "prod", synthetic_records(5, 100, envs=("Production",)))
    )
    comparison = render_comparison_html(compare_runs(only_prod, run))
    assert production in comparison
    capacity = render_capacity_html(
        analyse_run(_capacity_summary([2, 4, 6, 8, 18], 6), loads_scenario(""))
    )
    assert production in capacity
    # Development keeps its own colour too, first in the run and second in the comparison.
    assert env_colour("Development") in report
    assert env_colour("Development") in comparison
