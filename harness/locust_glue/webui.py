"""The live "Streaming" tab in Locust's web UI: table, charts, CSV, the run's report.

Locust's bundled UI renders an extra tab as a table only. The table (per env and flow, since the
last RESET) rides Locust's ``/stats/requests`` poll; the rest (per env TTFI p95, ITL p99,
streams in flight, streams/s and items/s over time, envs side by side, errors, the report link)
is drawn by ``static/streaming.js``, a small script without dependencies (inline SVG, no CDN)
added to Locust's page, from ``/flowload/live.json``.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

from flask import Response, json, jsonify, request, send_file

from harness.locust_glue.lifecycle import cut_streams
from harness.locust_glue.live import view_of
from harness.locust_glue.state import GlueState, state_of
from harness.locust_glue.webui_form import check_swarm_form, fill_form
from harness.report.render.colours import env_colours
from harness.results.stream import OUTCOMES

logger = logging.getLogger("flowload")
TAB_KEY = "flowload-streaming"
CSV_PATH = "/flowload/streaming.csv"
LIVE_PATH = "/flowload/live.json"
SCRIPT_PATH = "/flowload/streaming.js"
REPORT_PATH = "/flowload/report"
STATIC_DIR = Path(__file__).with_name("static")
# One colour per env, as in the reports (matplotlib's tab10 in env-name order).
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
    """Rows since the last RESET (the live view), else of the whole test."""
    view = view_of(environment)
    if view is not None:
        return [_flat(raw) for raw in view.recorder.live_rows()]
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


def _report_file(state: GlueState) -> Path | None:
    """The finished test's report.html, once written."""
    from harness.report import REPORT_HTML  # noqa: PLC0415

    if state.test_running or not state.finalized or state.report_dir is None:
        return None
    path = state.report_dir / REPORT_HTML
    return path if path.is_file() else None


def live_payload(environment: Any) -> dict[str, Any]:
    """``/flowload/live.json``: the time series, the test's state, its error, its report."""
    state = state_of(environment)
    view = view_of(environment)
    payload: dict[str, Any] = view.to_json() if view is not None else {"envs": [], "t": []}
    runner = environment.runner
    payload["state"] = str(getattr(runner, "state", "")) if runner is not None else ""
    payload["colours"] = env_colours(payload["envs"])
    payload["error"] = state.setup_failed if state is not None else None
    report = _report_file(state) if state is not None else None
    payload["report"] = {"url": REPORT_PATH, "dir": str(report.parent)} if report else None
    return payload


def install_web_ui(environment: Any, web_ui: Any) -> None:
    """Add the tab, its table, CSV, charts and report link, the start form's values and checks."""
    web_ui.template_args["extended_tabs"] = [{"title": "Streaming", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in TABLE_COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": CSV_PATH, "title": "Download streaming statistics CSV (flowload)"}
    ]
    _fill_form_on_each_page(environment, web_ui)
    app = web_ui.app
    app.before_request(_make_request_check(environment))
    app.after_request(_make_response_hook(environment))
    app.add_url_rule(CSV_PATH, "flowload_streaming_csv", lambda: _csv_response(environment))
    app.add_url_rule(LIVE_PATH, "flowload_live", lambda: jsonify(live_payload(environment)))
    app.add_url_rule(SCRIPT_PATH, "flowload_script", _script_response)
    app.add_url_rule(REPORT_PATH, "flowload_report", lambda: _report_response(environment))


def _fill_form_on_each_page(environment: Any, web_ui: Any) -> None:
    """Locust rebuilds the form's values on every page load; ours follow (no hook exists)."""
    rebuild = web_ui.update_template_args

    def update_template_args() -> None:
        rebuild()
        state = state_of(environment)
        if state is not None:
            fill_form(web_ui.template_args, state)

    web_ui.update_template_args = update_template_args
    update_template_args()


def _make_request_check(environment: Any) -> Any:
    """Before Locust's handlers: check a START's form; make STOP stop at once."""

    def check_request() -> Response | None:
        state = state_of(environment)
        if state is None or request.method != "POST":
            return None
        if request.endpoint == "locust.stop":
            cut_streams(state, environment)  # STOP means now, like Ctrl-C
            return None
        if request.endpoint != "locust.swarm":
            return None
        error = check_swarm_form(state, environment.parsed_options, request.form, environment.host)
        if error is None:
            return None
        logger.error("flowload: cannot start the test: %s", error)
        reply = {"success": False, "message": f"flowload: {error}", "host": environment.host}
        return jsonify(reply)  # Locust's own reply to a START it refuses: the form shows it

    return check_request


def _make_response_hook(environment: Any) -> Any:
    def after(response: Response) -> Response:
        if request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            tag = f'<script src="{SCRIPT_PATH}" defer></script>'
            response.set_data(page.replace("</body>", f"{tag}\n</body>", 1))
        elif request.path.endswith("/stats/requests") and response.json is not None:
            payload = dict(response.json)
            payload["extended_stats"] = [{"key": TAB_KEY, "data": streaming_rows(environment)}]
            response.set_data(json.dumps(payload))
        return response

    return after


def _csv_response(environment: Any) -> Response:
    response = Response(streaming_csv(environment), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment;filename=flowload_streaming.csv"
    return response


def _script_response() -> Response:
    return send_file(STATIC_DIR / "streaming.js", mimetype="text/javascript", max_age=0)


def _report_response(environment: Any) -> Response:
    state = state_of(environment)
    report = _report_file(state) if state is not None else None
    if report is None:
        return Response("no report yet: it is written when the test ends", status=404)
    return send_file(report, mimetype="text/html", max_age=0)
