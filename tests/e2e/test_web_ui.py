"""The live Streaming tab: Locust's web UI serves our table, its data and its CSV."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import orjson

from tests.e2e.conftest import free_port, locust_command, locust_env


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return bytes(response.read())


def _wait_for_rows(base: str, deadline_s: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            stats = orjson.loads(_get(f"{base}/stats/requests"))
        except OSError:
            time.sleep(0.3)
            continue
        tabs = {t["key"]: t["data"] for t in stats.get("extended_stats", [])}
        rows = tabs.get("flowload-streaming", [])
        if rows:
            return list(rows)
        time.sleep(0.3)
    return []


def test_streaming_tab_updates_live(tmp_path: Path) -> None:
    port = free_port()
    args = ["--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "-u", "3"]
    args += ["-r", "3", "-t", "8s", "--autoquit", "1", "--report-dir", str(tmp_path / "r")]
    proc = subprocess.Popen(
        locust_command(*args),
        cwd=tmp_path,
        env=locust_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        rows = _wait_for_rows(base, 20)
        page = _get(f"{base}/").decode()
        csv_text = _get(f"{base}/flowload/streaming.csv").decode()
    finally:
        _out, err = proc.communicate(timeout=60)
    assert rows, err[-3000:]
    assert {"env", "flow", "streams", "ok_pct", "ttfi_p95_ms", "problems"} <= set(rows[0])
    assert any(r["env"] == "all" and r["flow"] == "all" for r in rows)
    assert '"extended_tabs": [{"key": "flowload-streaming", "title": "Streaming"}]' in page
    assert csv_text.splitlines()[0].startswith("Env,Flow,Streams,OK %,TTFI p50 (ms)")
    assert csv_text.splitlines()[0].endswith(",stalled,limit_exceeded")
    assert proc.returncode == 0, err[-3000:]
    assert (tmp_path / "r" / "summary.json").exists()
