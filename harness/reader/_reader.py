"""The public facade: sniff the format, count bytes, dispatch to a framer, stay dead on error."""

from __future__ import annotations

from typing import Any, Protocol

from harness.reader._array import ArrayFramer
from harness.reader._lines import NdjsonFramer, SseFramer
from harness.reader._types import ItemFormat, ReaderError

_WS = b" \t\n\r"
_SSE_STARTS = frozenset(b"deir:")  # data/event/id/retry fields and ':' comments


class _Framer(Protocol):
    @property
    def complete(self) -> bool: ...

    @property
    def partial(self) -> bool: ...

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]: ...

    def finish(self) -> list[Any]: ...


class ItemReader:
    """Cut a streamed HTTP body into items, incrementally and in linear time.

    Call :meth:`feed` once per socket receipt: it returns the items completed by that chunk
    (decoded with orjson, or raw bytes with ``decode=False``), so the arrival time of an item is
    the receipt time of the chunk that completed it. Call :meth:`finish` at the end of the body.
    With ``fmt=None`` the format is sniffed from the first non-whitespace byte: ``[`` is a JSON
    array, ``d``/``e``/``i``/``r``/``:`` (an SSE field or comment) is SSE, anything else NDJSON.

    Errors (:class:`MalformedError`, :class:`ItemTooLargeError`, :class:`TruncatedError`) carry
    the absolute byte ``offset`` and the ``items`` the failing call completed before the error;
    after one, the reader is dead and raises the same kind again. ``decode=False`` checks the
    framing only: element contents are not validated.
    """

    def __init__(
        self,
        fmt: ItemFormat | None = None,
        *,
        decode: bool = True,
        max_item_bytes: int = 16 * 1024 * 1024,
        sse_sentinels: frozenset[str] = frozenset({"[DONE]"}),
    ) -> None:
        if max_item_bytes < 1:
            raise ValueError(f"max_item_bytes must be >= 1, got {max_item_bytes}")
        self._decode = decode
        self._max = max_item_bytes
        self._sentinels = sse_sentinels
        self._bytes = 0
        self._error: ReaderError | None = None
        self._finished = False
        self._format = fmt
        self._framer: _Framer | None = None if fmt is None else self._make(fmt, 0)

    @property
    def format(self) -> ItemFormat | None:
        """The body format: given, or sniffed (None until the first non-whitespace byte)."""
        return self._format

    @property
    def bytes_fed(self) -> int:
        """Total bytes passed to :meth:`feed`."""
        return self._bytes

    @property
    def complete(self) -> bool:
        """JSON array: the closing ``]`` was seen. NDJSON/SSE: :meth:`finish` succeeded."""
        if self._framer is None:
            return self._finished  # an empty body of unknown format ended cleanly
        return self._framer.complete

    @property
    def partial(self) -> bool:
        """True while the bytes fed so far end inside an item (not between items).

        After a feed that completed items, False means the last of them ended the chunk (only
        separators followed it): its time is the time of the chunk's newest bytes.
        """
        framer = self._framer
        return framer is not None and framer.partial

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Consume one chunk of the body; return the items it completed, in order."""
        if self._error is not None or self._finished:
            self._check_alive()
        framer = self._framer
        if framer is None:
            return self._sniff_and_feed(data)
        self._bytes += len(data)
        try:
            return framer.feed(data)
        except ReaderError as err:
            self._error = err
            raise

    def finish(self) -> list[Any]:
        """End of body: return the last items (NDJSON's unterminated line) or raise.

        Raises :class:`TruncatedError` if the body ended inside an item or, for a JSON array,
        before the closing ``]`` (an empty JSON-array body is truncated; an empty NDJSON/SSE
        body, or an empty body of unknown format, yields no items).
        """
        self._check_alive()
        framer = self._framer
        items: list[Any] = []
        if framer is not None:
            try:
                items = framer.finish()
            except ReaderError as err:
                self._error = err
                raise
        self._finished = True
        return items

    def _sniff_and_feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        offset = self._bytes
        self._bytes += len(data)
        stripped = bytes(data).lstrip(_WS)
        if not stripped:
            return []
        offset += len(data) - len(stripped)
        self._format = self._sniff(stripped[0])
        framer = self._framer = self._make(self._format, offset)
        try:
            return framer.feed(stripped)
        except ReaderError as err:
            self._error = err
            raise

    def _check_alive(self) -> None:
        err = self._error
        if err is not None:
            raise type(err)(f"reader already failed: {err}", err.offset)
        if self._finished:
            raise RuntimeError("finish() was already called; use a new ItemReader per body")

    @staticmethod
    def _sniff(first: int) -> ItemFormat:
        if first == 0x5B:
            return ItemFormat.JSON_ARRAY
        if first in _SSE_STARTS:
            return ItemFormat.SSE
        return ItemFormat.NDJSON

    def _make(self, fmt: ItemFormat, base: int) -> _Framer:
        if fmt is ItemFormat.JSON_ARRAY:
            return ArrayFramer(decode=self._decode, max_item_bytes=self._max, base=base)
        if fmt is ItemFormat.NDJSON:
            return NdjsonFramer(decode=self._decode, max_item_bytes=self._max, base=base)
        return SseFramer(
            decode=self._decode, max_item_bytes=self._max, sentinels=self._sentinels, base=base
        )
