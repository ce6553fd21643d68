"""``stats.csv``: one row per (env, flow), every stats block field flattened, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from harness.results import RunData

_FIRST = ("env", "flow")


def flatten(block: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns (``ttfi_ms.p95``, ``outcomes.ok``)."""
    flat: dict[str, Any] = {}
    for key, value in block.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif not isinstance(value, list):
            flat[name] = value
    return flat


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    # Keep first-seen order (the summary's own order) so columns group by metric.
    seen: dict[str, None] = dict.fromkeys(_FIRST)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def render_csv(run: RunData) -> str:
    """The CSV text (header + one row per (env, flow) block); empty cells for missing values."""
    rows = [flatten(block) for block in run.by_env_flow]
    columns = _columns(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
