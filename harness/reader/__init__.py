"""Incremental item framing of streamed HTTP bodies: JSON array, NDJSON and SSE.

``ItemReader.feed(chunk)`` returns the items each network chunk completes, in linear time;
see :class:`ItemReader`.
"""

from __future__ import annotations

from harness.reader._reader import ItemReader
from harness.reader._types import (
    ItemFormat,
    ItemTooLargeError,
    MalformedError,
    ReaderError,
    TruncatedError,
    format_from_content_type,
)

__all__ = [
    "ItemFormat",
    "ItemReader",
    "ItemTooLargeError",
    "MalformedError",
    "ReaderError",
    "TruncatedError",
    "format_from_content_type",
]
