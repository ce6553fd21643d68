"""Where a run writes its outputs (``--report-dir`` or ``reports/<stamp>-<id>/``), file names."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from harness.errors import ConfigError

SUMMARY_FILE = "summary.json"
STREAMS_FILE = "streams.jsonl"
CAPACITY_FILE = "capacity.json"


def default_report_dir(base: Path = Path("reports"), now: dt.datetime | None = None) -> Path:
    """A fresh, unique directory name under ``base`` (not created)."""
    moment = now or dt.datetime.now(dt.UTC)
    return base / f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def prepare_report_dir(path: Path) -> Path:
    """Create the directory (and parents); refuse a path that is a file."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--report-dir {path} exists and is not a directory; choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --report-dir {path}: {exc.strerror}") from exc
    return path
