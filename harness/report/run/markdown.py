"""``summary.md``: the compact Markdown version, fit for a CI job summary or a PR comment."""

from __future__ import annotations

from harness.report.render import fmt
from harness.report.render.md import render_md_table
from harness.report.run.health import health_facts, process_table
from harness.report.run.tables import (
    env_side_by_side,
    failed_streams,
    flow_table,
    gate_table,
    gates_verdict,
    run_facts,
    run_warnings,
    steps_table,
)
from harness.results import RunData

MD_FAILED_ROWS = 10


def render_markdown(run: RunData) -> str:
    """The run as Markdown: header, warnings, gates, per env, per flow, failed streams."""
    facts = dict(run_facts(run))
    lines = [
        "## flowload report",
        "",
        (
            f"{facts['started']} · {facts['duration']} · target `{facts['target']}` · "
            f"users {facts['users']} · workers {facts['workers']} · limit {facts['limit']}"
        ),
        "",
    ]
    for warning in run_warnings(run):
        lines += [f"> **Warning:** {warning}", ""]
    if run.gates:
        text, passed = gates_verdict(run.gates)
        verdict = f"✅ {text}" if passed else f"❌ {text}"
        lines += ["", f"### Gates: {verdict}", "", render_md_table(gate_table(run))]
    lines += ["", "### Per environment", "", render_md_table(env_side_by_side(run))]
    lines += ["", "### Generator health", ""]
    lines += [f"- {label}: {text}" for label, text in health_facts(run)]
    processes = process_table(run)
    if processes.rows:
        lines += ["", render_md_table(processes)]
    lines += ["", "### Per flow", "", render_md_table(flow_table(run))]
    if run.steps:
        lines += ["", "### Load steps", "", render_md_table(steps_table(run))]
    failed_table = failed_streams(run, MD_FAILED_ROWS)
    if failed_table.rows:
        lines += ["", "### Failed streams", "", render_md_table(failed_table)]
    lines += ["", f"<sub>{fmt.count(len(run.records))} stream records · {run.schema}</sub>", ""]
    return "\n".join(lines)
