"""The usual way to load-test a streaming endpoint with Locust: the baseline of fidelity.py.

``HttpUser`` + ``stream=True`` + ``iter_lines()`` + ``json.loads`` + ``time.time()`` per line, as
most streaming locustfiles are written. For the benchmark it also keeps, per stream, the request
start, every line's arrival time and the server's job id, and writes them (JSON) to
``$BASELINE_OUT`` when Locust quits.

    BASELINE_PATH=/api/v1/.../stream?env=Production BASELINE_OUT=out.json \
        locust -f benchmarks/baseline/locustfile.py --headless --host http://127.0.0.1:PORT ...

``BASELINE_HEADERS`` (JSON object) adds request headers, e.g. the simulator's schedule headers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task

PATH = os.environ.get("BASELINE_PATH", "/")
HEADERS: dict[str, str] = json.loads(os.environ.get("BASELINE_HEADERS", "{}"))
STREAMS: list[tuple[float, list[float], str | None]] = []


class BaselineStreamUser(HttpUser):
    """One NDJSON stream per task, read line by line."""

    wait_time = constant(0)

    @task
    def stream(self) -> None:
        """Read one stream; time each line with the wall clock, as the usual examples do."""
        start = time.time()
        stamps: list[float] = []
        with self.client.get(
            PATH, headers=HEADERS, stream=True, catch_response=True, name="stream"
        ) as response:
            for line in response.iter_lines():
                if line:
                    json.loads(line)
                    stamps.append(time.time())
            job_id = response.headers.get("flow-job-id")
        STREAMS.append((start, stamps, job_id))


def _dump(**_kw: Any) -> None:
    out = os.environ.get("BASELINE_OUT")
    if out:
        Path(out).write_text(json.dumps(STREAMS), encoding="utf-8")


events.quitting.add_listener(_dump)  # type: ignore[no-untyped-call]
