"""``streams.jsonl``: one JSON object per stream, appended and flushed as each stream ends.

The raw records are the ground truth of a run: reports can be rebuilt from them alone, so the writer
flushes every line (a crash loses at most the line being written) and the reader tolerates a torn
last line instead of refusing the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from harness.errors import FlowloadError


class RecordsError(FlowloadError):
    """The records file cannot be written or read."""


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
