"""Rebuild a summary from ``streams.jsonl`` alone, when ``summary.json`` is missing or damaged.

The raw records are the ground truth of a run, so counts, outcomes, items, bytes and the TTFB,
TTFI, duration and limit-used percentiles come out exact (to the histograms' precision). The
inter-item latency cannot: a record keeps only its stream's median and largest gap, so each
stream's gaps are approximated by ``items - 2`` gaps at its median and one at its maximum. The
rebuilt ``run`` section says so (``rebuilt_from_records``, ``note``); what the records do not
hold (users, host, versions) is left unknown.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable
from typing import Any

from harness.results.records import StreamRecord
from harness.results.stream import Outcome, StreamResult
from harness.results.summary import RunInfo, build_summary
from harness.stats import Recorder

__all__ = ["REBUILT_NOTE", "summary_from_records"]

REBUILT_NOTE = (
    "rebuilt from streams.jsonl (summary.json was missing or damaged): counts, TTFB, TTFI and "
    "durations are exact; ITL percentiles are approximate (each record keeps only its stream's "
    "median and maximum gap); users, host and versions are unknown"
)
_DEFAULT_LIMIT_S = 300.0
_OUTCOMES = {o.value: o for o in Outcome}


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _gaps(record: StreamRecord) -> tuple[float, ...]:
    """Approximate gaps with the record's median and maximum (exact for 1 or 2 gaps)."""
    count = record.items - 1
    if count < 1 or record.itl_max_ms is None:
        return ()
    median = record.itl_p50_ms if record.itl_p50_ms is not None else record.itl_max_ms
    return (median / 1000.0,) * (count - 1) + (record.itl_max_ms / 1000.0,)


def _limit_s(record: StreamRecord) -> float | None:
    if record.limit_used and record.limit_used > 0 and record.duration_ms > 0:
        return record.duration_ms / 1000.0 / record.limit_used
    return None


def _result(record: StreamRecord, limit_s: float) -> StreamResult | None:
    outcome = _OUTCOMES.get(record.outcome)
    if outcome is None or record.duration_ms < 0:
        return None
    return StreamResult(
        env=record.env,
        flow=record.flow,
        outcome=outcome,
        started_at=record.t,
        duration_s=record.duration_ms / 1000.0,
        limit_s=limit_s,
        status=record.status,
        job_id=record.job_id,
        ttfb_s=_seconds(record.ttfb_ms),
        ttfi_s=_seconds(record.ttfi_ms),
        gaps_s=_gaps(record),
        items=max(0, record.items),
        bytes=max(0, record.bytes),
        error=record.error,
    )


def _moment(epoch_s: float) -> dt.datetime:
    """A UTC timestamp; a damaged record's impossible time shows as the epoch, not a crash."""
    try:
        return dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.fromtimestamp(0, dt.UTC)


def _run_limit(records: list[StreamRecord]) -> float:
    """The run's limit, recovered from duration / limit_used, as it was configured.

    ``limit_used`` is stored to 6 decimals, so a short stream gives a rough quotient (300.3 s
    from a 0.2 s stream): the longest streams give the precise ones, and a limit is set in whole
    seconds or a few significant digits, so the median of those is snapped to that.
    """
    pairs = [(r.limit_used or 0.0, x) for r in records if (x := _limit_s(r)) is not None]
    if not pairs:
        return _DEFAULT_LIMIT_S
    longest = max(used for used, _ in pairs)
    limit = statistics.median(x for used, x in pairs if used >= longest / 2)
    return _configured(limit) if limit > 0 and math.isfinite(limit) else _DEFAULT_LIMIT_S


def _configured(limit: float) -> float:
    """``limit`` as a person would have set it: whole seconds when within 0.1 %, else 3 digits."""
    whole = round(limit)
    if whole >= 1 and abs(limit - whole) <= 0.001 * whole:
        return float(whole)
    return float(f"{limit:.3g}")


def summary_from_records(records: Iterable[StreamRecord]) -> dict[str, Any]:
    """A ``flowload.summary/1`` document from stream records, marked as rebuilt.

    ``run.skipped_records`` counts records whose outcome is unknown (they are not counted).
    """
    kept = list(records)
    limit_s = _run_limit(kept)
    recorder = Recorder()
    skipped = 0
    for record in kept:
        result = _result(record, limit_s)
        if result is None:
            skipped += 1
        else:
            recorder.record(result)
    start = min((r.t for r in kept), default=0.0)
    end = max((r.end for r in kept), default=start)
    run = RunInfo(
        started=_moment(start),
        ended=_moment(end),
        duration_s=max(0.0, end - start),
        host="unknown",
        users=None,
        workers=len({r.worker for r in kept}) or 1,
        locust_version="unknown",
        harness_version="unknown",
        limit_s=limit_s,
    )
    summary = build_summary(run, recorder)
    summary["run"] |= {
        "rebuilt_from_records": True,
        "note": REBUILT_NOTE,
        "skipped_records": skipped,
    }
    return summary
