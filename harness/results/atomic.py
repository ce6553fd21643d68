"""The one way flowload writes a file a reader may open at any moment: temp file + rename."""

from __future__ import annotations

import contextlib
from pathlib import Path

from harness.errors import FlowloadError
from harness.results.errors import ResultsError


def write_atomic(
    path: Path,
    data: bytes | str,
    *,
    error: type[FlowloadError] = ResultsError,
    parents: bool = False,
) -> Path:
    """Write ``data`` (text as UTF-8) so a reader sees the old file or the new one, never half.

    ``parents``: create missing parent directories (else a missing one is an error). On failure,
    no temp file is left behind and ``error`` is raised with the path and the system's reason.
    """
    tmp = path.with_name(path.name + ".tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(payload)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise error(f"cannot write {path}: {exc.strerror}") from exc
    return path
