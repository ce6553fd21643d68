"""The report's tables as plain rows of text: one source for the HTML and Markdown renderers."""

from __future__ import annotations

from typing import Any

from harness.report.render import fmt
from harness.report.render.table import Table
from harness.results import RunData, StreamRecord

SLOWEST_ROWS = 10
FAILED_ROWS = 50


def _stat(block: dict[str, Any], metric: str, key: str) -> Any:
    return (block.get(metric) or {}).get(key)


def _ok_share(block: dict[str, Any]) -> str:
    streams = block.get("streams") or 0
    ok = (block.get("outcomes") or {}).get("ok", 0)
    return fmt.pct(ok / streams) if streams else "-"


_SIDE_ROWS: tuple[tuple[str, Any], ...] = (
    ("streams", lambda b: fmt.count(b.get("streams"))),
    ("ok", _ok_share),
    ("error rate", lambda b: fmt.pct(b.get("error_rate"), 2)),
    ("problems", lambda b: fmt.outcome_summary(b.get("outcomes") or {})),
    ("streams/s", lambda b: fmt.rate(b.get("streams_per_s"))),
    ("items/s", lambda b: fmt.rate(b.get("items_per_s"))),
    ("items", lambda b: fmt.count(b.get("items"))),
    ("bytes", lambda b: fmt.size(b.get("bytes"))),
    ("TTFB p50 / p95", lambda b: _pair(b, "ttfb_ms", "p50", "p95")),
    ("TTFI p50 / p95", lambda b: _pair(b, "ttfi_ms", "p50", "p95")),
    ("TTFI p99 / max", lambda b: _pair(b, "ttfi_ms", "p99", "max")),
    ("ITL p50 / p99", lambda b: _pair(b, "itl_ms", "p50", "p99")),
    ("duration p50 / p95", lambda b: _pair(b, "duration_ms", "p50", "p95")),
    ("duration max", lambda b: fmt.ms(_stat(b, "duration_ms", "max"))),
    ("limit used (max)", lambda b: fmt.pct(_stat(b, "limit_used", "max"))),
)


def _pair(block: dict[str, Any], metric: str, first: str, second: str) -> str:
    return f"{fmt.ms(_stat(block, metric, first))} / {fmt.ms(_stat(block, metric, second))}"


def env_side_by_side(run: RunData) -> Table:
    """Rows are measures, columns are all streams then each env."""
    blocks = [("all", run.overall), *run.by_env.items()]
    header = ["", *(name for name, _ in blocks)]
    rows = [[label, *(cell(block) for _, block in blocks)] for label, cell in _SIDE_ROWS]
    return Table(header, rows)


def flow_table(run: RunData) -> Table:
    """One row per (env, flow): volume, outcomes and throughput."""
    header = ["env", "flow", "streams", "ok", "error rate", "problems", "streams/s", "items/s",
              "TTFI p95", "duration p95", "limit used (max)"]  # fmt: skip
    rows = [
        [
            str(block.get("env", "?")),
            str(block.get("flow", "?")),
            fmt.count(block.get("streams")),
            _ok_share(block),
            fmt.pct(block.get("error_rate"), 2),
            fmt.outcome_summary(block.get("outcomes") or {}),
            fmt.rate(block.get("streams_per_s")),
            fmt.rate(block.get("items_per_s")),
            fmt.ms(_stat(block, "ttfi_ms", "p95")),
            fmt.ms(_stat(block, "duration_ms", "p95")),
            fmt.pct(_stat(block, "limit_used", "max")),
        ]
        for block in run.by_env_flow
    ]
    return Table(header, rows)


def percentile_table(run: RunData, metric: str) -> Table:
    """One metric's percentiles: each env, then each (env, flow)."""
    header = ["env", "flow", "count", *fmt.PERCENTILES]
    labelled = [(env, "(all)", block) for env, block in run.by_env.items()]
    labelled += [(str(b.get("env", "?")), str(b.get("flow", "?")), b) for b in run.by_env_flow]
    rows = [
        [
            env,
            flow,
            fmt.count(_stat(block, metric, "count")),
            *(fmt.ms(_stat(block, metric, q)) for q in fmt.PERCENTILES),
        ]
        for env, flow, block in labelled
    ]
    return Table(header, rows)


def _step_load(step: dict[str, Any]) -> str:
    if step.get("users") is not None:
        return f"{step['users']:g} users"
    if step.get("rate") is not None:
        return f"{step['rate']:g} streams/s"
    return "-"


def steps_table(run: RunData) -> Table:
    """Capacity runs: one row per load step (its stats block is flattened into the step)."""
    header = ["step", "load", "streams", "ok", "streams/s", "TTFI p50 / p95", "ITL p99",
              "duration p95", "dropped"]  # fmt: skip
    rows = [
        [
            str(step.get("step", i)),
            _step_load(step),
            fmt.count(step.get("streams")),
            _ok_share(step),
            fmt.rate(step.get("streams_per_s")),
            _pair(step, "ttfi_ms", "p50", "p95"),
            fmt.ms(_stat(step, "itl_ms", "p99")),
            fmt.ms(_stat(step, "duration_ms", "p95")),
            fmt.count(step.get("dropped")),
        ]
        for i, step in enumerate(run.steps or [])
    ]
    return Table(header, rows)


def gate_status(gate: dict[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``INCONCLUSIVE`` (older summaries only have ``passed``)."""
    status = gate.get("status")
    if status == "inconclusive":
        return "INCONCLUSIVE"
    if status is not None:
        return "PASS" if status == "passed" else "FAIL"
    return "PASS" if gate.get("passed") else "FAIL"


def gates_verdict(gates: list[dict[str, Any]]) -> tuple[str, bool]:
    """A one-line verdict over all gates, and whether every gate passed."""
    statuses = [gate_status(g) for g in gates]
    failed, unsure = statuses.count("FAIL"), statuses.count("INCONCLUSIVE")
    if not failed and not unsure:
        return "all gates passed", True
    parts = [f"{failed} failed"] if failed else []
    parts += [f"{unsure} inconclusive"] if unsure else []
    return f"{' and '.join(parts)} of {len(gates)} gate(s)", False


def gate_table(run: RunData) -> Table:
    """Gate verdicts: expression, scope, observed value, pass/fail, message."""
    header = ["verdict", "gate", "env", "flow", "observed", "threshold", "message"]
    rows = [
        [
            gate_status(gate),
            str(gate.get("expr", "")),
            str(gate.get("env") or "any"),
            str(gate.get("flow") or "any"),
            "-" if gate.get("observed") is None else str(gate.get("observed")),
            "-" if gate.get("threshold") is None else str(gate.get("threshold")),
            str(gate.get("message") or ""),
        ]
        for gate in run.gates
    ]
    return Table(header, rows)


_STREAM_HEADER = [
    "started (UTC)", "env", "flow", "outcome", "status", "TTFI", "duration", "limit",
    "items", "flow-job-id", "error",
]  # fmt: skip


def _stream_row(record: StreamRecord, limit_s: float) -> list[str]:
    limit = record.limit_used
    if limit is None:
        limit = record.duration_ms / 1000.0 / limit_s
    return [
        fmt.epoch(record.t),
        record.env,
        record.flow,
        record.outcome,
        "-" if record.status is None else str(record.status),
        fmt.ms(record.ttfi_ms),
        fmt.ms(record.duration_ms),
        fmt.pct(limit),
        fmt.count(record.items),
        record.job_id or "-",
        record.error or "",
    ]


def slowest_streams(run: RunData, limit: int = SLOWEST_ROWS) -> Table:
    """The longest streams, longest first, with their job ids."""
    ordered = sorted(run.records, key=lambda r: r.duration_ms, reverse=True)[:limit]
    return Table(_STREAM_HEADER, [_stream_row(r, run.limit_s) for r in ordered])


def failed_streams(run: RunData, limit: int = FAILED_ROWS) -> Table:
    """Streams whose outcome is not ok, in start order (the first ``limit`` of them)."""
    failed = [r for r in run.records if r.outcome != "ok"]
    note = f"showing the first {limit} of {len(failed)}" if len(failed) > limit else ""
    return Table(_STREAM_HEADER, [_stream_row(r, run.limit_s) for r in failed[:limit]], note)


def run_facts(run: RunData) -> list[tuple[str, str]]:
    """The run header as label/value pairs (never a secret: the host is stored redacted)."""
    info = run.run
    users = info.get("users")
    return [
        ("started", str(info.get("started", "-"))),
        ("ended", str(info.get("ended", "-"))),
        ("duration", f"{float(info.get('duration_s') or 0):.1f} s"),
        ("target", str(info.get("host") or "-")),
        ("mode", str(info.get("mode") or "closed")),
        ("users", "-" if users is None else str(users)),
        ("workers", str(info.get("workers", "-"))),
        ("limit", fmt.seconds(run.limit_s)),
        ("scenario", str(info.get("scenario") or "-")),
        ("versions", f"flowload {info.get('harness_version', '?')}, locust "
                     + str(info.get("locust_version", "?"))),
    ]  # fmt: skip


def run_warnings(run: RunData) -> list[str]:
    """What makes this run's numbers less trustworthy, one sentence each."""
    from harness.report.run.health import saturation_summary  # noqa: PLC0415 - imports this module

    info = run.run
    warnings = []
    if info.get("generator_saturated"):
        cause = saturation_summary(info) or "CPU, event-loop lag or waiting for a CPU"
        warnings.append(
            f"The load generator was saturated ({cause}): latencies may describe the harness, "
            "not the server. Use fewer users per process or more workers, and keep other busy "
            "processes off its CPUs."
        )
    if info.get("interrupted"):
        warnings.append("The run was interrupted before its planned end.")
    if info.get("degraded") or info.get("lost_workers"):
        lost = ", ".join(str(w) for w in info.get("lost_workers") or []) or "some"
        warnings.append(f"Worker(s) lost before their final report ({lost}): counts are partial.")
    if info.get("cancelled_streams"):
        warnings.append(
            f"{info['cancelled_streams']} stream(s) were still running at the end and are not "
            "measured (give --stop-timeout to let them finish)."
        )
    if run.bad_lines:
        warnings.append(
            f"{run.bad_lines} line(s) of streams.jsonl could not be read and are left out."
        )
    if not run.records:
        warnings.append(
            "No per-stream records (streams.jsonl): distribution and time plots are empty."
        )
    return warnings
