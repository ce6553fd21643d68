"""The end-of-run table printed to the console: per env, then per env and flow."""

from __future__ import annotations

from typing import Any

from harness.results.stream import OUTCOMES

_COLUMNS = (
    ("streams", 7),
    ("ok%", 6),
    ("ttfi p50", 9),
    ("p95", 8),
    ("p99", 8),
    ("itl p50", 8),
    ("p99", 8),
    ("dur p50", 8),
    ("p95", 8),
    ("max", 8),
    ("limit", 6),
)


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    number = float(value)
    if number >= 10_000:
        return f"{number / 1000:.1f}s"
    if number >= 100:
        return f"{number:.0f}"
    return f"{number:.1f}"


def _row(label: str, block: dict[str, Any], width: int) -> str:
    streams = int(block.get("streams", 0))
    ok = int(block.get("outcomes", {}).get("ok", 0))
    ttfi = block.get("ttfi_ms") or {}
    itl = block.get("itl_ms") or {}
    dur = block.get("duration_ms") or {}
    limit = (block.get("limit_used") or {}).get("max")
    cells = [
        str(streams),
        f"{100.0 * ok / streams:.1f}" if streams else "-",
        _ms(ttfi.get("p50")),
        _ms(ttfi.get("p95")),
        _ms(ttfi.get("p99")),
        _ms(itl.get("p50")),
        _ms(itl.get("p99")),
        _ms(dur.get("p50")),
        _ms(dur.get("p95")),
        _ms(dur.get("max")),
        "-" if limit is None else f"{100.0 * float(limit):.0f}%",
    ]
    body = " ".join(c.rjust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True))
    problems = ", ".join(
        f"{o.value}={block['outcomes'][o.value]}"
        for o in OUTCOMES[1:]
        if block.get("outcomes", {}).get(o.value)
    )
    return f"{label:<{width}} {body}" + (f"  {problems}" if problems else "")


def format_summary_table(summary: dict[str, Any]) -> str:
    """Render the per-env and per-(env, flow) table (latencies in ms unless marked ``s``)."""
    labels = [f"{env}" for env in summary["by_env"]]
    labels += [f"  {b['env']} / {b['flow']}" for b in summary["by_env_flow"]]
    width = max([len(label) for label in labels] + [len("ALL"), 12])
    header = f"{'env / flow':<{width}} " + " ".join(n.rjust(w) for n, w in _COLUMNS)
    lines = [
        "flowload streaming summary (times in ms; limit = max duration / server limit)",
        header,
        "-" * len(header),
    ]
    for env, block in summary["by_env"].items():
        lines.append(_row(env, block, width))
        lines.extend(
            _row(f"  {b['env']} / {b['flow']}", b, width)
            for b in summary["by_env_flow"]
            if b["env"] == env
        )
    lines.append(_row("ALL", summary["overall"], width))
    return "\n".join(lines)
