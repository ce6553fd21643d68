"""Formats, content-type mapping and the typed errors of the item reader."""

from __future__ import annotations

import enum
from typing import Any

import orjson

from harness.errors import FlowloadError

__all__ = [
    "ItemFormat",
    "ItemTooLargeError",
    "MalformedError",
    "ReaderError",
    "TruncatedError",
    "format_from_content_type",
]


class ItemFormat(enum.StrEnum):
    """How a streamed body is cut into items."""

    JSON_ARRAY = "json_array"
    NDJSON = "ndjson"
    SSE = "sse"


_MEDIA_TYPES: dict[str, ItemFormat] = {
    "application/json": ItemFormat.JSON_ARRAY,
    "text/json": ItemFormat.JSON_ARRAY,
    "application/x-ndjson": ItemFormat.NDJSON,
    "application/ndjson": ItemFormat.NDJSON,
    "application/jsonl": ItemFormat.NDJSON,
    "application/x-jsonl": ItemFormat.NDJSON,
    "application/jsonlines": ItemFormat.NDJSON,
    "application/x-jsonlines": ItemFormat.NDJSON,
    "text/event-stream": ItemFormat.SSE,
}


def format_from_content_type(content_type: str | None) -> ItemFormat | None:
    """Map a ``Content-Type`` header value to an :class:`ItemFormat`.

    Parameters (``; charset=utf-8``) and case are ignored. ``application/json-seq`` (RFC 7464,
    records prefixed with an RS byte) is *not* mapped: it returns ``None``, like any unknown
    type, so the caller can sniff the body or pick a format explicitly.
    """
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPES.get(media)


class ReaderError(FlowloadError):
    """The body could not be cut into items.

    ``offset`` is the absolute byte offset in the body where the problem was found. ``items``
    holds the items the failing ``feed``/``finish`` call completed before the error (so a caller
    counting items loses none of them).
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.items: list[Any] = []


class MalformedError(ReaderError):
    """Invalid JSON or framing (including trailing garbage after the closing ``]``)."""


class ItemTooLargeError(ReaderError):
    """An item grew past ``max_item_bytes``; reading stops to keep memory bounded."""


class TruncatedError(ReaderError):
    """The body ended inside an item, before the closing ``]``, or was empty (JSON array)."""


def decode_error_offset(err: orjson.JSONDecodeError, start: int) -> int:
    """Absolute byte offset of an orjson error in an item that starts at ``start``.

    orjson reports a character position in the decoded text; convert it back to bytes.
    """
    doc = err.doc if isinstance(err.doc, str) else ""
    pos = max(0, min(err.pos, len(doc)))
    return start + len(doc[:pos].encode("utf-8", "surrogatepass"))
