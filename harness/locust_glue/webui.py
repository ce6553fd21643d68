"""The live "Streaming" tab in Locust's web UI, and its CSV download."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request

from harness.locust_glue.state import state_of
from harness.result import OUTCOMES

TAB_KEY = "flowload-streaming"
CSV_PATH = "/flowload/streaming.csv"
_LATENCY_COLUMNS = (
    ("ttfi_p50_ms", "TTFI p50 (ms)"),
    ("ttfi_p95_ms", "TTFI p95 (ms)"),
    ("ttfi_p99_ms", "TTFI p99 (ms)"),
    ("itl_p50_ms", "ITL p50 (ms)"),
    ("itl_p99_ms", "ITL p99 (ms)"),
    ("duration_p95_ms", "Duration p95 (ms)"),
    ("duration_max_ms", "Duration max (ms)"),
)
_HEAD = (("env", "Env"), ("flow", "Flow"), ("streams", "Streams"), ("ok_pct", "OK %"))
# The tab is read by people: one "problems" column; the CSV keeps every outcome count.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    *_HEAD,
    *_LATENCY_COLUMNS,
    ("limit_used_max_pct", "Max limit used %"),
    ("problems", "Problems (non-ok outcomes)"),
)
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    *_HEAD,
    *_LATENCY_COLUMNS,
    ("limit_used_max", "Max limit used"),
    *((o.value, o.value) for o in OUTCOMES),
)
_TOTAL = "*"


def _rounded(value: Any, digits: int) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    return "" if value is None else value


def _flat(raw: dict[str, Any]) -> dict[str, Any]:
    flat = dict(raw)
    outcomes = flat.pop("outcomes", {}) or {}
    flat.update(outcomes)
    limit = flat.get("limit_used_max")
    flat["limit_used_max_pct"] = None if limit is None else 100.0 * float(limit)
    flat["problems"] = ", ".join(
        f"{o.value} {outcomes[o.value]}" for o in OUTCOMES[1:] if outcomes.get(o.value)
    )
    for key in ("env", "flow"):
        if flat.get(key) == _TOTAL:
            flat[key] = "all"
    return flat


def _live_rows(environment: Any) -> list[dict[str, Any]]:
    state = state_of(environment)
    if state is None or state.session is None:
        return []
    return [_flat(raw) for raw in state.session.recorder.live_rows()]


def streaming_rows(environment: Any) -> list[dict[str, Any]]:
    """Current rows of the Streaming tab (per env and flow, env totals, overall)."""
    return [
        {key: _rounded(row.get(key), 1) for key, _ in TABLE_COLUMNS}
        for row in _live_rows(environment)
    ]


def streaming_csv(environment: Any) -> str:
    """The Streaming tab as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in CSV_COLUMNS])
    for row in _live_rows(environment):
        writer.writerow([_rounded(row.get(key), 6) for key, _ in CSV_COLUMNS])
    return out.getvalue()


def install_web_ui(environment: Any, web_ui: Any) -> None:
    """Add the tab, its table and CSV link, the stats hook and the CSV route."""
    web_ui.template_args["extended_tabs"] = [{"title": "Streaming", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in TABLE_COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": CSV_PATH, "title": "Download streaming statistics CSV (flowload)"}
    ]

    def add_streaming_stats(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or response.json is None:
            return response
        payload = dict(response.json)
        payload["extended_stats"] = [{"key": TAB_KEY, "data": streaming_rows(environment)}]
        from flask import json  # noqa: PLC0415

        response.set_data(json.dumps(payload))
        return response

    def download_streaming_csv() -> Response:
        response = Response(streaming_csv(environment), mimetype="text/csv")
        response.headers["Content-Disposition"] = "attachment;filename=flowload_streaming.csv"
        return response

    web_ui.app.after_request(add_streaming_stats)
    web_ui.app.add_url_rule(CSV_PATH, "flowload_streaming_csv", download_streaming_csv)
