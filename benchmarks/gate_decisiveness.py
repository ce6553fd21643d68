"""Are CI gates decisive on a normal machine? The README's CI example, run N times.

Each run is the README's gated command (20 users against the bundled simulator with
``examples/ci/scenario.toml``) as a subprocess. Exit 0 (gates passed) or 4 (a gate failed) is
decisive; 5 is inconclusive (the run says its item times cannot be trusted, or too few
streams). With ``--hog``, a CPU-bound process runs beside every run on each CPU: the verdict
must stay decisive unless the measured error bound really exceeds the rule, and the table
shows that bound next to each exit code.

    PYTHONPATH=. python benchmarks/gate_decisiveness.py [--runs 10] [--seconds 30] [--hog]

Writes ``benchmarks/results/gate_decisiveness[-hog].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOG = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def readme_command(seconds: int, report: Path) -> list[str]:
    """The README's CI example (its run time shortened to ``seconds``)."""
    return [
        sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "flow_stream.py"),
        "--headless", "-u", "20", "-r", "10", "-t", f"{seconds}s",
        "--flow-config", str(ROOT / "examples" / "ci" / "scenario.toml"),
        "--report-dir", str(report),
    ]  # fmt: skip


def one_run(seconds: int, *, hog: bool) -> dict[str, Any]:
    """One gated run; its exit code and what summary.json says about its item times."""
    hogs = []
    if hog:
        hogs = [
            subprocess.Popen([sys.executable, "-c", HOG.format(s=seconds + 60)])
            for _ in range(len(os.sched_getaffinity(0)))
        ]
    try:
        with tempfile.TemporaryDirectory(prefix="gates-") as tmp:
            report = Path(tmp) / "report"
            env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
            env["PYTHONPATH"] = str(ROOT)
            started = time.perf_counter()
            proc = subprocess.run(
                readme_command(seconds, report), cwd=tmp, env=env, capture_output=True,
                text=True, timeout=seconds + 180, check=False,
            )  # fmt: skip
            summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    run = summary["run"]
    generator = run.get("generator", {}).get("local", {})
    return {
        "exit_code": proc.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "clock": (run.get("clock") or {}).get("used"),
        "error_bound": run.get("error_bound"),
        "flagged": run.get("generator_saturated"),
        "causes": generator.get("causes"),
        "cpu_wait_pct_p90": generator.get("cpu_wait_pct_p90"),
        "loop_lag_ms_p99": generator.get("loop_lag_ms_p99"),
        "gates": [(g.get("expr"), g.get("passed")) for g in summary.get("gates", [])],
    }


def main() -> None:
    """Run, print one line per run and the tally, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--hog", action="store_true", help="a CPU-bound process on every CPU")
    args = parser.parse_args()
    rows = []
    for i in range(args.runs):
        row = one_run(args.seconds, hog=args.hog)
        rows.append(row)
        bound = row["error_bound"] or {}
        print(
            f"run {i + 1}: exit {row['exit_code']} ({row['clock']} stamps; "
            f"{bound.get('over_1ms_pct')} % items > 1 ms; lag p99 "
            f"{bound.get('delivery_lag_p99_ms')} ms; CPU wait p90 {row['cpu_wait_pct_p90']} %; "
            f"loop lag p99 {row['loop_lag_ms_p99']} ms) {row['causes'] or ''}",
            flush=True,
        )
    decisive = sum(r["exit_code"] in (0, 4) for r in rows)
    print(f"decisive (exit 0 or 4): {decisive} of {len(rows)}")
    out = ROOT / "benchmarks" / "results" / f"gate_decisiveness{'-hog' if args.hog else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    payload = {"machine": machine, "args": vars(args), "rows": rows, "decisive": decisive}
    out.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
