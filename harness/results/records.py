"""``streams.jsonl``: one JSON object per stream, appended and flushed as each stream ends.

:class:`StreamsWriter` writes the lines, :func:`read_records` reads them back raw, and
:class:`StreamRecord` is one line as every reader of a finished run sees it.

The raw records are the ground truth of a run: reports can be rebuilt from them alone, so the writer
flushes every line (a crash loses at most the line being written) and the reader tolerates a torn
last line instead of refusing the whole file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from harness.results.errors import RecordsError
from harness.secrets import mask_key_text


class StreamsWriter:
    """Appends one record per line to ``streams.jsonl`` and flushes each one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[bytes] | None = path.open("ab", buffering=0)
        except OSError as exc:
            raise RecordsError(f"cannot open {path} for writing: {exc.strerror}") from exc
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (unbuffered file: the bytes reach the OS before this returns)."""
        if self._file is None:
            raise RecordsError(f"{self.path} is closed")
        self._file.write(orjson.dumps(record) + b"\n")
        self.written += 1

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append several records with one write call."""
        if not records:
            return
        if self._file is None:
            raise RecordsError(f"{self.path} is closed")
        self._file.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        self.written += len(records)

    def close(self) -> None:
        """Close the file; further writes raise."""
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class LoadedRecords:
    """Records read back from a file, and how many lines could not be read."""

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)


def read_records(path: Path) -> LoadedRecords:
    """Read ``streams.jsonl``; unreadable lines (a torn last line after a crash) are listed."""
    loaded = LoadedRecords()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecordsError(f"cannot read {path}: {exc.strerror}") from exc
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            loaded.bad_lines.append(number)
            continue
        if isinstance(value, dict):
            loaded.records.append(value)
        else:
            loaded.bad_lines.append(number)
    return loaded


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """The fields of one ``streams.jsonl`` line the reports use (milliseconds, epoch seconds)."""

    t: float
    env: str
    flow: str
    outcome: str
    duration_ms: float
    job_id: str | None = None
    status: int | None = None
    ttfb_ms: float | None = None
    ttfi_ms: float | None = None
    items: int = 0
    bytes: int = 0
    itl_p50_ms: float | None = None
    itl_max_ms: float | None = None
    limit_used: float | None = None
    error: str | None = None
    worker: str = ""

    @property
    def end(self) -> float:
        """Epoch seconds when the stream ended."""
        return self.t + self.duration_ms / 1000.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def to_stream_record(raw: dict[str, Any]) -> StreamRecord | None:
    """One parsed ``streams.jsonl`` object as a record; None when a required field is unusable."""
    t = _number(raw.get("t"))
    duration = _number(raw.get("duration_ms"))
    env, flow, outcome = raw.get("env"), raw.get("flow"), raw.get("outcome")
    if t is None or duration is None or not all(isinstance(x, str) for x in (env, flow, outcome)):
        return None
    status = raw.get("status")
    return StreamRecord(
        t=t,
        env=str(env),
        flow=str(flow),
        outcome=str(outcome),
        duration_ms=duration,
        job_id=_text(raw.get("job_id")),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        ttfb_ms=_number(raw.get("ttfb_ms")),
        ttfi_ms=_number(raw.get("ttfi_ms")),
        items=int(_number(raw.get("items")) or 0),
        bytes=int(_number(raw.get("bytes")) or 0),
        itl_p50_ms=_number(raw.get("itl_p50_ms")),
        itl_max_ms=_number(raw.get("itl_max_ms")),
        limit_used=_number(raw.get("limit_used")),
        error=None if raw.get("error") is None else mask_key_text(str(raw["error"])),
        worker=str(raw.get("worker") or ""),
    )


def load_stream_records(path: Path) -> tuple[list[StreamRecord], int]:
    """The usable records of ``streams.jsonl`` in time order, and how many lines were not."""
    loaded = read_records(path)
    records: list[StreamRecord] = []
    bad = len(loaded.bad_lines)
    for raw in loaded.records:
        record = to_stream_record(raw)
        if record is None:
            bad += 1
        else:
            records.append(record)
    records.sort(key=lambda r: r.t)
    return records, bad
