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
_PCT_COLUMNS = (
    ("ttfi_p50_ms", "TTFI p50 (ms)"),
    ("ttfi_p95_ms", "TTFI p95 (ms)"),
    ("ttfi_p99_ms", "TTFI p99 (ms)"),
    ("itl_p50_ms", "ITL p50 (ms)"),
    ("itl_p99_ms", "ITL p99 (ms)"),
    ("duration_p95_ms", "Duration p95 (ms)"),
    ("duration_max_ms", "Duration max (ms)"),
    ("limit_used_max", "Max limit used"),
)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("env", "Env"),
    ("flow", "Flow"),
    ("streams", "Streams"),
    ("ok_pct", "OK %"),
    *_PCT_COLUMNS,
    *((o.value, o.value) for o in OUTCOMES),
)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    return "" if value is None else value


def streaming_rows(environment: Any) -> list[dict[str, Any]]:
    """Current per-(env, flow) rows, one key per column."""
    state = state_of(environment)
    if state is None or state.session is None:
        return []
    rows = []
    for raw in state.session.recorder.live_rows():
        flat = dict(raw)
        outcomes = flat.pop("outcomes", {})
        if isinstance(outcomes, dict):
            flat.update(outcomes)
        rows.append({key: _cell(flat.get(key)) for key, _ in COLUMNS})
    return rows


def streaming_csv(environment: Any) -> str:
    """The Streaming tab as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in COLUMNS])
    for row in streaming_rows(environment):
        writer.writerow([row[key] for key, _ in COLUMNS])
    return out.getvalue()


def install_web_ui(environment: Any, web_ui: Any) -> None:
    """Add the tab, its table and CSV link, the stats hook and the CSV route."""
    web_ui.template_args["extended_tabs"] = [{"title": "Streaming", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
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
