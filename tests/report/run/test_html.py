"""harness.report.run.html (and write_reports): one self-contained page with every section."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from harness.report import write_reports
from harness.report.run.html import render_report
from harness.report.run.plots import PLOT_KEYS
from harness.results.run_data import load_run
from tests.report.run.test_fixtures import FIXTURES, synthetic_records, write_run


def fixture_html() -> str:
    return render_report(load_run(FIXTURES / "v1"))


def test_write_reports_writes_three_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "v1", run_dir)
    paths = write_reports(run_dir)
    assert [p.name for p in paths] == ["report.html", "summary.md", "stats.csv"]
    assert all(p.parent == run_dir and p.stat().st_size > 0 for p in paths)
    out = write_reports(run_dir, tmp_path / "elsewhere")
    assert all(p.parent == tmp_path / "elsewhere" for p in out)


def test_page_is_self_contained() -> None:
    html = fixture_html()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    assert "url(http" not in html
    assert "@media print" in html


def test_page_has_header_tables_plots_streams_and_gates() -> None:
    html = fixture_html()
    run = load_run(FIXTURES / "v1")
    assert run.run["host"] in html
    assert "load generator was saturated" in html  # the fixture run was flagged
    assert "5 stream(s) were still running" in html
    for key in PLOT_KEYS:
        assert f'id="plot-{key}"' in html
    assert html.count("<svg") == len(PLOT_KEYS)
    for env in run.by_env:
        assert f"<th>{env}</th>" in html
    for record in run.records:  # few streams: all of them are among the slowest 10
        assert record.job_id is not None
        assert record.job_id in html
    assert "1 failed of 3 gate(s)" in html
    assert re.search(r'<td class="[^"]*FAIL">FAIL</td>', html)
    assert "duration.max 2927 ms &gt;= 2000 ms" in html
    for label in ("TTFB (ms)", "TTFI (ms)", "ITL (ms)", "Duration (ms)"):
        assert label in html


def test_failed_streams_are_listed_with_job_ids_and_escaped(tmp_path: Path) -> None:
    records = synthetic_records(2, 300, envs=("<b>Prod</b>",), failure_share=0.2)
    run = load_run(write_run(tmp_path, records))
    html = render_report(run)
    assert "<b>Prod</b>" not in html
    assert "&lt;b&gt;Prod&lt;/b&gt;" in html
    failed = [r for r in run.records if r.outcome != "ok"]
    assert len(failed) > 50
    for record in failed[:50]:
        assert record.job_id is not None
        assert record.job_id in html
    assert f"showing the first 50 of {len(failed)}" in html
    assert "HTTP 503 | upstream &lt;busy&gt;" in html


def test_no_gates_no_gate_section() -> None:
    run = load_run(FIXTURES / "v1")
    html = render_report(type(run)(**{**run.__dict__, "gates": []}))
    assert 'id="gates"' not in html


def test_size_and_time_for_10000_records(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, synthetic_records(9, 10_000, span_s=600.0))
    started = time.perf_counter()
    write_reports(run_dir)
    elapsed = time.perf_counter() - started
    size = (run_dir / "report.html").stat().st_size
    assert size < 400_000, size
    assert elapsed < 60, elapsed  # generous: 2 shared cores; typically a few seconds


def test_generator_health_shows_clock_error_bound_and_each_process() -> None:
    run = load_run(FIXTURES / "v1-health")
    html = render_report(run)
    section = html[html.index('id="health"') : html.index('id="plots"')]
    assert "mixed: the kernel&#x27;s receive time where available" in section
    assert "(asked for: auto)" in section
    assert "worker-b had no kernel receive timestamps" in section
    assert "3 of 178 items (1.7 %) could be off by more than 1 ms" in section
    assert "error bound p99 1.4 ms, max 3.2 ms" in section
    assert "delivery lag p50 0.08 ms, p99 0.9 ms, max 3.2 ms" in section
    assert '<td class="text">worker-a</td><td>31.5 / 44 / 52.1 %</td>' in section
    assert '<td class="text PASS">kept up</td>' in section
    assert (
        "<td>88 / 97.3 / 99 %</td><td>2.2 / 12.3 / 31 ms</td><td>0.5 / 1.1 / 1.6 %</td>" in section
    )
    assert '<td class="text FAIL">saturated</td>' in section
    assert "CPU p90 97 % &gt; 90 %; event-loop lag p99 12.3 ms &gt; 4 ms" in section
    # The header's warning names the cause the console named.
    header = html[: html.index("</header>")]
    assert "saturated (worker-b: CPU p90 97 % &gt; 90 %, event-loop lag p99 12.3 ms" in header


def test_an_older_summary_without_health_fields_still_renders() -> None:
    html = fixture_html()  # v1: no clock, no error bound, no cpu_wait, no causes
    section = html[html.index('id="health"') : html.index('id="plots"')]
    assert section.count("not recorded (a summary from an older flowload)") == 2
    assert ">local<" in section
    assert "<td>1.7 / 3.2 / 3.2 %</td><td>0.786 / 23.7 / 50 ms</td><td>-</td>" in section
    # Its cause is recomputed from the figures it has: the event-loop lag.
    assert "event-loop lag p99 23.7 ms &gt; 4 ms" in section
