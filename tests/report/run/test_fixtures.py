"""Synthetic report directories for the report tests (seeded), and checks of the builder itself.

Other ``tests/test_report_*.py`` modules import ``write_run`` and ``synthetic_records`` from here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from harness.results.run_data import load_run
from harness.results.stream import OUTCOMES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "summary"
START = 1_795_000_000.0
PROBLEMS = ("http_error", "truncated", "stalled")


def synthetic_records(
    seed: int,
    n: int,
    *,
    envs: Sequence[str] = ("Production", "Development"),
    flows: Sequence[str] = ("orders", "chat"),
    ttfi_factor: float = 1.0,
    span_s: float = 60.0,
    failure_share: float = 0.05,
) -> list[dict[str, Any]]:
    """``n`` streams.jsonl records: lognormal TTFI around 400 ms (times ``ttfi_factor``)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        env, flow = rng.choice(envs), rng.choice(flows)
        failed = rng.random() < failure_share
        ttfi = 400.0 * ttfi_factor * rng.lognormvariate(0.0, 0.35)
        duration = ttfi + rng.lognormvariate(7.5, 0.5)
        records.append({
            "t": round(START + rng.uniform(0.0, span_s), 6),
            "env": env,
            "flow": flow,
            "job_id": f"job-{seed}-{i:05d}",
            "status": 503 if failed else 200,
            "outcome": rng.choice(PROBLEMS) if failed else "ok",
            "ttfb_ms": round(rng.uniform(2.0, 30.0), 3),
            "ttfi_ms": None if failed else round(ttfi, 3),
            "duration_ms": round(duration, 3),
            "items": 0 if failed else rng.randint(1, 40),
            "bytes": rng.randint(100, 50_000),
            "itl_p50_ms": round(rng.uniform(20.0, 90.0), 3),
            "itl_max_ms": round(rng.uniform(90.0, 400.0), 3),
            "limit_used": round(duration / 300_000.0, 6),
            "error": "HTTP 503 | upstream <busy>" if failed else None,
            "worker": "local",
        })  # fmt: skip
    return records


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, **dict.fromkeys(("min", "mean", "p50", "p90", "p95", "p99", "p99.9",
                                             "max"))}  # fmt: skip
    data = sorted(values)

    def rank(q: float) -> float:
        return data[max(1, math.ceil(q * len(data))) - 1]

    return {
        "count": len(data),
        "min": data[0],
        "mean": sum(data) / len(data),
        **{f"p{q * 100:g}": rank(q) for q in (0.5, 0.9, 0.95, 0.99, 0.999)},
        "max": data[-1],
    }


def stats_block(records: Sequence[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    """A stats block of the summary contract computed from records (nearest-rank percentiles)."""
    outcomes = {o.value: sum(r["outcome"] == o.value for r in records) for o in OUTCOMES}
    streams = len(records)

    def values(key: str) -> list[float]:
        return [float(r[key]) for r in records if r.get(key) is not None]

    items = sum(int(r["items"]) for r in records)
    return {
        "streams": streams,
        "outcomes": outcomes,
        "error_rate": (streams - outcomes["ok"]) / streams if streams else 0.0,
        "items": items,
        "bytes": sum(int(r["bytes"]) for r in records),
        "streams_per_s": streams / elapsed_s,
        "items_per_s": items / elapsed_s,
        "ttfb_ms": _percentiles(values("ttfb_ms")),
        "ttfi_ms": _percentiles(values("ttfi_ms")),
        "itl_ms": _percentiles(values("itl_p50_ms")),
        "duration_ms": _percentiles(values("duration_ms")),
        "limit_used": _percentiles(values("limit_used")),
    }


def synthetic_summary(
    records: Sequence[dict[str, Any]], gates: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``flowload.summary/1`` document consistent with ``records``."""
    elapsed = 60.0
    envs = list(dict.fromkeys(r["env"] for r in records))
    pairs = sorted({(r["env"], r["flow"]) for r in records})
    return {
        "schema": "flowload.summary/1",
        "run": {
            "started": "2026-11-20T10:00:00.000Z",
            "ended": "2026-11-20T10:01:00.000Z",
            "duration_s": elapsed,
            "host": "https://flow.example.com",
            "users": 20,
            "workers": 1,
            "locust_version": "2.47.0",
            "harness_version": "0.1.0",
            "mode": "closed",
            "limit_s": 300.0,
            "generator": {},
            "generator_saturated": False,
            "interrupted": False,
            "degraded": False,
            "lost_workers": [],
            "cancelled_streams": 0,
            "embedded_simulator": False,
            "scenario": None,
        },
        "overall": stats_block(records, elapsed),
        "by_env": {e: stats_block([r for r in records if r["env"] == e], elapsed) for e in envs},
        "by_env_flow": [
            {
                "env": e,
                "flow": f,
                **stats_block([r for r in records if (r["env"], r["flow"]) == (e, f)], elapsed),
            }
            for e, f in pairs
        ],
        "gates": gates or [],
    }


def write_run(
    directory: Path,
    records: Sequence[dict[str, Any]],
    gates: list[dict[str, Any]] | None = None,
) -> Path:
    """Write summary.json and streams.jsonl for ``records`` into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    summary = synthetic_summary(records, gates)
    (directory / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    (directory / "streams.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return directory


def test_synthetic_run_round_trips_through_the_loader(tmp_path: Path) -> None:
    records = synthetic_records(3, 200)
    run = load_run(write_run(tmp_path / "run", records))
    assert len(run.records) == 200
    assert run.bad_lines == 0
    assert run.overall["streams"] == 200
    assert set(run.by_env) == {"Production", "Development"}
    assert sum(b["streams"] for b in run.by_env_flow) == 200
    assert [r.t for r in run.records] == sorted(r["t"] for r in records)


def test_synthetic_records_are_seeded() -> None:
    assert synthetic_records(5, 50) == synthetic_records(5, 50)
    assert synthetic_records(5, 50) != synthetic_records(6, 50)
