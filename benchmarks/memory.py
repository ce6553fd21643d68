"""Memory stays flat: many big streams through the real transport + reader, and long runs' stats.

Part 1 (streams): ``--streams`` streams of ``--mb`` MB each (default 1,000 x 10 MB),
``--concurrency`` at a time, from the bundled simulator (a child process: its memory is not
counted) through harness.transport + harness.reader via ``measure_stream``, as a load test
reads them.
Items are ``--item-kb`` KB (``x-flowload-item-bytes``), sent back to back. The benchmark samples
this process's RSS as streams complete: flat RSS means nothing per stream is kept beyond its
StreamResult (a stream's body is never buffered whole; the reader holds at most one item).

Part 2 (histograms): ``--samples`` (default 10M) inter-item gaps recorded into one
harness.stats.Recorder through ``Recorder.record`` (streams of 100 gaps each), with RSS and the
size of the recorder's wire form sampled along the way: histogram size is fixed by range and
precision, not by the number of samples.

Prints two tables and writes ``benchmarks/results/memory.json``. ``--quick`` is a small smoke run.
Not part of the test suite (minutes, and RSS figures depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
import psutil  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from harness.reader import ItemReader  # noqa: E402
from harness.results.stream import Outcome, StreamResult  # noqa: E402
from harness.run.measure import StreamLimits, measure_stream  # noqa: E402
from harness.simulator import SimulatorProcess  # noqa: E402
from harness.stats import Recorder  # noqa: E402
from harness.transport import HttpClient, HttpRequest  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
FLOW_ID = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"  # orders-export in the built-in profile
KEY = "memory-bench-key-5d1c"
MB = 1_000_000


def rss_mb() -> float:
    """This process's resident set size in MB."""
    return float(psutil.Process().memory_info().rss) / MB


def _request(base: str, item_bytes: int, items: int) -> HttpRequest:
    url = f"{base}/api/v1/tenants/acme/workspaces/sales/flows/{FLOW_ID}/stream?env=Production"
    headers = (
        ("x-api-key", KEY),
        ("x-flowload-items", str(items)),
        ("x-flowload-item-bytes", str(item_bytes)),
        ("x-flowload-ttfi-ms", "0"),
        ("x-flowload-gap-ms", "0"),
    )
    return HttpRequest("POST", url, headers, b"{}")


def bench_streams(streams: int, mb: float, item_kb: int, concurrency: int) -> dict[str, Any]:
    """Part 1: run the streams, sample RSS every 10% of them; return the figures."""
    item_bytes = item_kb * 1000
    items = max(1, round(mb * MB / item_bytes))
    limits = StreamLimits(limit_s=600.0, stall_timeout_s=60.0)
    samples: list[dict[str, float]] = []
    outcomes: dict[str, int] = {}
    total_bytes = 0
    done = 0
    step = max(1, streams // 10)
    with SimulatorProcess(["--seed", "1", "--limit", "600"], api_key=KEY) as sim:
        request = _request(sim.url, item_bytes, items)
        clients = [HttpClient() for _ in range(concurrency)]
        free = list(clients)
        started = time.perf_counter()
        samples.append({"streams": 0, "rss_mb": rss_mb(), "elapsed_s": 0.0})

        def one(_: int) -> None:
            nonlocal done, total_bytes
            client = free.pop()
            try:
                result = measure_stream(
                    client, request, env="Production", flow="big", limits=limits,
                    make_reader=lambda fmt: ItemReader(fmt, decode=False),
                )  # fmt: skip
            finally:
                free.append(client)
            outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
            total_bytes += result.bytes
            done += 1
            if done % step == 0:
                elapsed = time.perf_counter() - started
                samples.append({"streams": done, "rss_mb": rss_mb(), "elapsed_s": elapsed})

        Pool(concurrency).map(one, range(streams))
        elapsed = time.perf_counter() - started
        for client in clients:
            client.close()
    after_warmup = samples[1]["rss_mb"] if len(samples) > 1 else samples[0]["rss_mb"]
    return {
        "streams": streams,
        "mb_per_stream": total_bytes / MB / max(1, done),
        "item_bytes": item_bytes,
        "concurrency": concurrency,
        "outcomes": outcomes,
        "total_gb": total_bytes / 1e9,
        "elapsed_s": elapsed,
        "mb_per_s": total_bytes / MB / elapsed if elapsed else 0.0,
        "samples": samples,
        "rss_growth_after_first_10pct_mb": max(s["rss_mb"] for s in samples) - after_warmup,
    }


def bench_histograms(total: int, gaps_per_stream: int = 100) -> dict[str, Any]:
    """Part 2: record ``total`` gaps into one Recorder; sample RSS and the wire size."""
    rng = random.Random(7)
    recorder = Recorder()
    pool = [tuple(rng.lognormvariate(-3.0, 1.0) for _ in range(gaps_per_stream)) for _ in range(64)]
    streams = max(1, total // gaps_per_stream)
    step = max(1, streams // 10)
    samples: list[dict[str, float]] = [{"samples": 0, "rss_mb": rss_mb(), "wire_kb": 0.0}]
    started = time.perf_counter()
    for i in range(streams):
        recorder.record(
            StreamResult(
                env="Production", flow="f", outcome=Outcome.OK, started_at=0.0,
                duration_s=rng.uniform(0.1, 30.0), limit_s=300.0, ttfb_s=0.01,
                ttfi_s=rng.uniform(0.05, 2.0), gaps_s=pool[i % len(pool)], items=101,
            )
        )  # fmt: skip
        if (i + 1) % step == 0:
            wire = len(json.dumps(recorder.stats("Production", "f").to_wire()))
            samples.append(
                {"samples": (i + 1) * gaps_per_stream, "rss_mb": rss_mb(), "wire_kb": wire / 1000}
            )
    elapsed = time.perf_counter() - started
    itl = recorder.overall(elapsed)["itl_ms"]
    return {
        "samples": streams * gaps_per_stream,
        "elapsed_s": elapsed,
        "itl_count": itl["count"],
        "table": samples,
        "rss_growth_after_first_10pct_mb": max(s["rss_mb"] for s in samples) - samples[1]["rss_mb"],
    }


def _print(part1: dict[str, Any], part2: dict[str, Any]) -> None:
    print(
        f"\nPart 1: {part1['streams']} streams x {part1['mb_per_stream']:.1f} MB "
        f"({part1['item_bytes'] // 1000} KB items), {part1['concurrency']} concurrent, "
        f"{part1['total_gb']:.1f} GB in {part1['elapsed_s']:.0f} s ({part1['mb_per_s']:.0f} MB/s)"
    )
    print(f"{'streams done':>12}  {'RSS MB':>8}  {'elapsed s':>9}")
    for s in part1["samples"]:
        print(f"{s['streams']:>12}  {s['rss_mb']:>8.1f}  {s['elapsed_s']:>9.1f}")
    print(f"outcomes: {part1['outcomes']}; RSS growth after the first 10%: "
          f"{part1['rss_growth_after_first_10pct_mb']:+.1f} MB")  # fmt: skip
    print(f"\nPart 2: {part2['samples']:,} ITL samples into one Recorder in "
          f"{part2['elapsed_s']:.0f} s (histogram count {part2['itl_count']:,})")  # fmt: skip
    print(f"{'samples':>12}  {'RSS MB':>8}  {'wire KB':>8}")
    for s in part2["table"]:
        print(f"{s['samples']:>12,}  {s['rss_mb']:>8.1f}  {s['wire_kb']:>8.1f}")
    print(f"RSS growth after the first 10%: {part2['rss_growth_after_first_10pct_mb']:+.1f} MB")


def main(argv: list[str] | None = None) -> int:
    """Run both parts, print the tables, write the JSON; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--mb", type=float, default=10.0, help="MB per stream")
    parser.add_argument("--item-kb", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.mb, args.concurrency, args.samples = 40, 1.0, 8, 200_000
    part1 = bench_streams(args.streams, args.mb, args.item_kb, args.concurrency)
    gevent.sleep(0)
    part2 = bench_histograms(args.samples)
    _print(part1, part2)
    machine = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpus": os.cpu_count(), "note": "2 shared cores; other jobs ran at the same time",
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": machine, "streams": part1, "histograms": part2}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
