r"""Line-based formats: NDJSON (one JSON value per line) and Server-Sent Events.

Both keep the unfinished last line in a ``bytearray`` and look for ``\\n`` only in bytes not yet
searched, so the cost is linear in the body length. Lines end with ``\\n`` or ``\\r\\n``.
"""

from __future__ import annotations

from typing import Any

import orjson

from harness.reader._types import (
    ItemTooLargeError,
    MalformedError,
    TruncatedError,
    decode_error_offset,
)

_BLANK = b" \t\r"


def _too_large(offset: int, limit: int, what: str) -> ItemTooLargeError:
    return ItemTooLargeError(
        f"{what} starting at byte {offset} exceeds max_item_bytes={limit}; "
        "raise max_item_bytes if such items are expected",
        offset,
    )


def _decode(raw: bytes | bytearray, offset: int, what: str, *, contiguous: bool = True) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        # SSE data is stitched from several lines: report where the event starts
        at = decode_error_offset(err, offset) if contiguous else offset
        raise MalformedError(
            f"malformed JSON in {what} at byte {at} ({what} starts at byte {offset}): {err.msg}",
            at,
        ) from None


class _LineBuffer:
    r"""The bytes after the last complete line, and where the next search for ``\\n`` starts."""

    def __init__(self, base: int) -> None:
        self.buf = bytearray()
        self.base = base  # absolute offset of buf[0]
        self.searched = 0  # buf[:searched] holds no '\n'

    def take_lines(self, data: bytes | bytearray | memoryview) -> bytearray | None:
        r"""Append ``data``; return the complete lines (through the last ``\\n``) or None."""
        buf = self.buf
        buf += data
        k = buf.rfind(b"\n", self.searched)
        if k < 0:
            self.searched = len(buf)
            return None
        lines = buf[: k + 1]
        del buf[: k + 1]
        self.base += k + 1
        self.searched = len(buf)
        return lines


class NdjsonFramer:
    r"""One JSON value per line; blank lines are ignored; the last line may lack its ``\\n``."""

    def __init__(self, *, decode: bool, max_item_bytes: int, base: int = 0) -> None:
        self._decode = decode
        self._max = max_item_bytes
        self._lines = _LineBuffer(base)

    complete = False  # set by a successful finish()

    @property
    def partial(self) -> bool:
        """True while bytes of an unfinished line (other than blanks) are held."""
        return bool(self._lines.buf.strip(_BLANK))

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Append ``data``; return the values of the lines it completed."""
        start = self._lines.base
        chunk = self._lines.take_lines(data)
        if chunk is None:
            if len(self._lines.buf) > self._max:
                raise _too_large(self._lines.base, self._max, "NDJSON line")
            return []
        lines = chunk.split(b"\n")
        lines.pop()  # the empty piece after the final '\n'
        if self._decode and len(chunk) <= self._max:
            try:  # fast path: no blank line, every line valid
                return [orjson.loads(line) for line in lines]
            except orjson.JSONDecodeError:
                pass
        out: list[Any] = []
        try:
            self._slow(lines, start, out)
        except (MalformedError, ItemTooLargeError) as err:
            err.items = out
            raise
        return out

    def _slow(self, lines: list[bytearray], offset: int, out: list[Any]) -> None:
        for line in lines:
            self._line(line, offset, out)
            offset += len(line) + 1

    def _line(self, line: bytearray, offset: int, out: list[Any]) -> None:
        if not line.strip(_BLANK):
            return
        if len(line) > self._max:
            raise _too_large(offset, self._max, "NDJSON line")
        if self._decode:
            out.append(_decode(line, offset, "NDJSON line"))
        else:
            out.append(bytes(line.strip(_BLANK)))

    def finish(self) -> list[Any]:
        r"""End of body: a last line without ``\\n`` is an item too."""
        out: list[Any] = []
        rest = self._lines.buf
        if rest:
            self._line(rest, self._lines.base, out)
            self._lines.base += len(rest)
            rest.clear()
        self.complete = True
        return out


class SseFramer:
    r"""Server-Sent Events: each event's ``data:`` lines (joined by ``\\n``) make one item.

    Comments (``:``) and the fields ``event``/``id``/``retry`` are ignored, as are events
    without data and events whose data is one of ``sentinels`` (e.g. ``[DONE]``).
    """

    def __init__(
        self, *, decode: bool, max_item_bytes: int, sentinels: frozenset[str], base: int = 0
    ) -> None:
        self._decode = decode
        self._max = max_item_bytes
        self._sentinels = frozenset(s.encode() for s in sentinels)
        self._lines = _LineBuffer(base)
        # One buffer, not a list of lines: a list of many tiny bytes objects would hold ~40 bytes
        # per line, letting a hostile stream of short data lines use many times max_item_bytes.
        self._data = bytearray()
        self._has_data = False  # the current event has a data line (possibly empty)
        self._size = 0  # bytes of data in the current event
        self._event_start = base

    complete = False  # set by a successful finish()

    @property
    def partial(self) -> bool:
        """True while an event has data lines but no closing blank line yet (or a line is cut)."""
        return self._has_data or bool(self._lines.buf.strip(b"\r"))

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Append ``data``; return the items of the events it completed."""
        offset = self._lines.base
        chunk = self._lines.take_lines(data)
        out: list[Any] = []
        if chunk is None:
            if len(self._lines.buf) + self._size > self._max:
                raise _too_large(self._event_start, self._max, "SSE event")
            return out
        lines = chunk.split(b"\n")
        lines.pop()
        try:
            for line in lines:
                self._line(line, offset, out)
                offset += len(line) + 1
        except (MalformedError, ItemTooLargeError) as err:
            err.items = out
            raise
        return out

    def _line(self, line: bytearray, offset: int, out: list[Any]) -> None:
        if line.endswith(b"\r"):
            if len(line) == 1:
                self._dispatch(out)
                self._event_start = offset + 2
                return
            line = line[:-1]
        if not line:
            self._dispatch(out)
            self._event_start = offset + 1
            return
        name, colon, value = line.partition(b":")
        if name != b"data":
            return
        if colon and value.startswith(b" "):
            value = value[1:]
        self._size += len(value) + 1
        if self._size > self._max + 1:
            raise _too_large(self._event_start, self._max, "SSE event")
        if self._has_data:
            self._data += b"\n"
        self._data += value
        self._has_data = True

    def _dispatch(self, out: list[Any]) -> None:
        if not self._has_data:
            return
        data = bytes(self._data)
        self._data.clear()
        self._has_data = False
        self._size = 0
        if data in self._sentinels:
            return
        if self._decode:
            out.append(_decode(data, self._event_start, "SSE event", contiguous=False))
        else:
            out.append(data)

    def finish(self) -> list[Any]:
        """End of body: an event with data but no closing blank line is truncated."""
        rest = self._lines.buf.rstrip(b"\r")
        if self._has_data or rest.startswith(b"data"):
            offset = self._lines.base + len(self._lines.buf)
            raise TruncatedError(
                f"truncated SSE stream at byte {offset}: the body ended inside an event "
                "(no blank line after its data); the server closed the stream early",
                offset,
            )
        self.complete = True
        return []
