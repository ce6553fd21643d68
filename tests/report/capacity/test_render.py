"""The capacity report: HTML (self-contained, plots, tables), Markdown and the console table."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

import pytest

from harness.capacity.run_analysis import RunAnalysis, analyse_run
from harness.config import loads_scenario
from harness.report.capacity.render import (
    CapacityReportError,
    console_table,
    general_caveats,
    recommendation_table,
    render_capacity_html,
    render_capacity_md,
    step_table,
    write_capacity_reports,
)
from tests.capacity_data import block

SLO = '[capacity.slo]\nttfi_p95_ms = 800\nerror_rate = "< 1%"\n'


def _env_block(load: float, slots: float, *, arrival: bool, service_s: float = 0.5) -> Any:
    if arrival:
        capacity = slots / service_s
        wait = max(0.0, load / capacity - 1.0) * 3.0
        return block(
            streams_per_s=min(load, capacity),
            duration_ms=(service_s + wait) * 1000,
            ttfi_p95_ms=(0.1 + wait) * 1000,
        )
    duration = service_s * max(1.0, load / slots)
    return block(
        streams_per_s=min(load, slots) / service_s,
        duration_ms=duration * 1000,
        ttfi_p95_ms=(duration - service_s + 0.1) * 1000,
    )


def _summary(loads: list[float], slots: float, *, arrival: bool = False) -> dict[str, Any]:
    kind = "rate" if arrival else "users"
    steps = []
    for i, load in enumerate(loads):
        env = _env_block(load, slots, arrival=arrival)
        steps.append(
            {
                "step": i,
                kind: load,
                "started": "2026-01-01T00:00:00Z",
                "ended": "2026-01-01T00:01:00Z",
                "settle_s": 5.0,
                "dropped": 0 if load < 10 else int(load * 3),
                "lag_ms": {"p95": 1.0 + load},
                "ttfi_uncorrected_ms": {"p95": env["ttfi_ms"]["p95"] * 0.5},
                **env,
                "by_env": {"Production": env},
            }
        )
    run = {
        "started": "2026-01-01T00:00:00Z",
        "duration_s": 300,
        "host": "http://127.0.0.1:1",
        "mode": "arrival" if arrival else "closed",
        "workers": 1,
        "limit_s": 300,
        "generator_saturated": False,
        "cancelled_streams": 0,
    }
    return {"schema": "flowload.summary/1", "run": run, "steps": steps}


@pytest.fixture(scope="module")
def stepped() -> RunAnalysis:
    return analyse_run(_summary([2, 4, 6, 8, 18], 6), loads_scenario(SLO))


@pytest.fixture(scope="module")
def arrival() -> RunAnalysis:
    return analyse_run(_summary([4, 8, 12, 16, 24], 6, arrival=True), loads_scenario(SLO))


def test_recommendation_table_has_the_sentence_and_the_knee(stepped: RunAnalysis) -> None:
    table = recommendation_table(stepped)
    assert [row[0] for row in table.rows] == ["Production"]
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["recommendation"] == stepped.analysis.recommendation("Production")
    assert row["saturates at"] == "~6 concurrent streams"
    # 8 users on 6 slots: TTFI p95 267 ms, within 800 ms, but they queue: the figure is 6.
    assert row["highest step within SLO"] == "8 concurrent streams (past saturation)"
    assert row["plan for"] == "6 concurrent streams (12 streams/s)"


def test_one_figure_in_streams_with_the_slo_spelled_out_and_caveats_first(
    stepped: RunAnalysis,
) -> None:
    sentence = stepped.analysis.recommendation("Production")
    assert sentence.startswith("Production: plan for 6 concurrent streams (12 streams/s): ")
    assert "the SLO (TTFI p95 <= 800 ms, error rate < 1%)" in sentence
    for text in (render_capacity_md(stepped), console_table(stepped)):
        slo = "SLO (from the scenario's [capacity.slo] table): TTFI p95 <= 800 ms, error rate < 1%."
        assert slo in text
        assert "[capacity.slo]." not in text
        assert " users" not in text.split("Caveats (whole run)")[0]
    md = render_capacity_md(stepped)
    # The caveat that changes the figure comes right under it, before the tables and the method.
    past = md.index("8 concurrent streams also met the SLO")
    assert md.index(sentence) < past < md.index("| env |") < md.index("Caveats (whole run)")
    html = render_capacity_html(stepped)
    assert html.index("also met the SLO") < html.index('id="plots"')
    assert html.index('id="caveats"') < html.index('id="plots"')


def test_warnings_come_before_the_figure() -> None:
    summary = _summary([2, 4, 6, 8, 18], 6)
    summary["run"]["generator_saturated"] = True
    summary["run"]["generator"] = {
        "local": {"saturated": True, "causes": ["CPU p90 97 % > 90 %"]},
        "saturated": True,
    }
    result = analyse_run(summary, loads_scenario(SLO))
    text = console_table(result)
    assert text.startswith("WARNING: The load generator was saturated (local: CPU p90 97 % > 90 %)")
    md = render_capacity_md(result)
    assert md.index("**Warning:** The load generator") < md.index("### Recommendation")
    html = render_capacity_html(result)
    assert html.index('class="warn"') < html.index('id="recommendation"')


def test_step_table_shows_slo_littles_law_and_headroom(stepped: RunAnalysis) -> None:
    table = step_table(stepped, stepped.analysis.env("Production"))
    assert "in flight (Little)" in table.header
    assert "limit used p99 / max" in table.header
    assert "TTFI p95 uncorrected" not in table.header  # closed loop: no intended start
    assert "Little gap" in table.header
    assert all(len(row) == len(table.header) for row in table.rows)
    slo = [row[-2] for row in table.rows]
    assert slo == ["PASS"] * 4 + ["FAIL"]
    assert table.rows[3][-1] == ""
    assert table.rows[4][-1].startswith("TTFI p95 <= 800 ms: observed")


def test_arrival_tables_and_plots_show_the_uncorrected_latency(arrival: RunAnalysis) -> None:
    table = step_table(arrival, arrival.analysis.env("Production"))
    assert "TTFI p95 uncorrected" in table.header
    assert "Little gap" not in table.header  # no set concurrency to compare with
    assert all(len(row) == len(table.header) for row in table.rows)
    html = render_capacity_html(arrival)
    assert 'data-plot="cap-arrival"' in html
    assert "from actual start (uncorrected)" in html
    assert "coordinated-omission" in " ".join(general_caveats(arrival))


def test_html_is_self_contained_with_plots_and_sections(stepped: RunAnalysis) -> None:
    html = render_capacity_html(stepped)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert html.count("<svg") == 2
    for anchor in ("recommendation", "plots", "env-Production", "caveats"):
        assert f'id="{anchor}"' in html
    assert "Saturation evidence" in html
    assert escape(stepped.analysis.recommendation("Production")) in html
    assert "SLO 800 ms" in html  # the SLO line is labelled in the latency plot


def test_markdown_and_console(stepped: RunAnalysis) -> None:
    md = render_capacity_md(stepped)
    assert md.startswith("## flowload capacity report")
    assert f"- **{stepped.analysis.recommendation('Production')}**" in md
    assert "| step | load (concurrent streams) |" in md
    text = console_table(stepped)
    lines = text.splitlines()
    assert lines[0].startswith("SLO (")
    assert lines[2].split()[:3] == ["env", "plan", "for"]
    assert set(lines[3]) <= {"-", " "}
    assert lines[-1] == stepped.analysis.recommendation("Production")


def test_general_caveats_flag_a_saturated_generator() -> None:
    summary = _summary([2, 4, 6, 8], 4)
    summary["run"]["generator_saturated"] = True
    summary["run"]["cancelled_streams"] = 3
    result = analyse_run(summary, loads_scenario(""))
    caveats = " ".join(general_caveats(result))
    assert "load generator was saturated" in caveats
    assert "3 stream(s) were still running" in caveats
    assert "excluded from its statistics" in caveats
    assert "extrapolations" in caveats


def test_write_reports_and_a_clear_error_when_it_cannot(
    stepped: RunAnalysis, tmp_path: Path
) -> None:
    paths = write_capacity_reports(stepped, tmp_path)
    assert [p.name for p in paths] == ["capacity.html", "capacity.md"]
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(CapacityReportError, match="cannot write"):
        write_capacity_reports(stepped, tmp_path / "missing" / "dir")
