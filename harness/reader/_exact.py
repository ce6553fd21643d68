"""Regular expressions of the exact path: they jump over JSON strings and nested containers.

Possessive quantifiers and atomic groups keep them linear (no backtracking). Containers are
matched up to ``DEPTH`` levels in one call (brackets are not matched by kind: validating is
orjson's job); deeper nesting is followed by the framer's depth counter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import orjson

from harness.reader import _skim
from harness.reader._types import ItemTooLargeError, MalformedError, decode_error_offset

DEPTH = 4  # nesting levels the regexes skip in one call; deeper ones use the depth counter
_COPY_MAX = 4096  # elements up to this size are sliced (cheaper than a view)
SKIM = True  # long stretches of a container: the depth counter's state by _skim (C speed)

_WS = rb"[ \t\n\r]"
_STR = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_PLAIN = rb'[^\[\]{}"]++'
_SCALAR = rb'[^ \t\n\r,\[\]{}"][^ \t\n\r,\]]*+'


def _nested(depth: int) -> bytes:
    """A complete container with at most ``depth`` levels (brackets are not matched by kind)."""
    pat = rb"[\[{](?>" + _PLAIN + b"|" + _STR + rb")*+[\]}]"
    for _ in range(depth - 1):
        pat = rb"[\[{](?>" + _PLAIN + b"|" + _STR + b"|" + pat + rb")*+[\]}]"
    return pat


_CONT = _nested(DEPTH)
_ELEM = rb"(?:" + _STR + b"|" + _CONT + b"|" + _SCALAR + b")"
_SEP = _WS + rb"*+," + _WS + rb"*+"
_RUN_RE = re.compile(rb"(?:" + _ELEM + _SEP + rb")*+", re.DOTALL)
ITEM_RE = re.compile(rb"(" + _ELEM + rb")" + _SEP, re.DOTALL)
_CONTENT_RE = re.compile(rb"(?>" + _PLAIN + b"|" + _STR + b"|" + _CONT + rb")*+", re.DOTALL)
_STRBODY_RE = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_SCALAR_TAIL_RE = re.compile(rb"[^ \t\n\r,\]]*+")
_WS_RE = re.compile(_WS + rb"*+")


# These patterns always match (possibly the empty string): typed as such, and called as bound
# methods (a wrapper function would cost a Python call per token on the hot path).
_AlwaysMatch = Callable[[bytearray, int], "re.Match[bytes]"]
_AlwaysMatchUpTo = Callable[[bytearray, int, int], "re.Match[bytes]"]  # (buf, pos, endpos)
ws_match = cast("_AlwaysMatch", _WS_RE.match)
run_match = cast("_AlwaysMatch", _RUN_RE.match)
content_upto = cast("_AlwaysMatchUpTo", _CONTENT_RE.match)
strbody_match = cast("_AlwaysMatch", _STRBODY_RE.match)
scalar_match = cast("_AlwaysMatch", _SCALAR_TAIL_RE.match)


_CONTAINER, _STRING, _NUMBER, PARSE = range(4)  # PARSE: unfinished, for orjson to resume
_QUOTE, _LBRACKET, _RBRACKET = 0x22, 0x5B, 0x5D
_OPENERS = frozenset(b"{[")


class ExactPath:
    """The exact path of :class:`~harness.reader._array.ArrayFramer`, and how it emits items.

    Follows one element at ``_es`` with the regexes above and a depth counter that resumes
    where the previous chunk ended (``_sp``, ``_depth``, ``_in_str``).
    """

    def __init__(self, *, decode: bool, max_item_bytes: int, base: int) -> None:
        self._decode = decode
        self._max = max_item_bytes
        self._base = base  # absolute body offset of the buffer's first byte
        self._size = 0  # length of the last element emitted
        self._es = 0  # start of the element being followed
        self._sp = 0  # where scanning of that element resumes
        self._mode = _CONTAINER
        self._depth = 0
        self._in_str = False

    def _begin(self, buf: bytearray, p: int) -> None:
        """Follow the element that starts at ``p`` with the depth counter."""
        c = buf[p]
        self._es = p
        self._sp = p + 1
        self._depth = 1
        self._in_str = False
        if c in _OPENERS:
            self._mode = _CONTAINER
        elif c == _QUOTE:
            self._mode = _STRING
        else:
            self._mode = _NUMBER

    def _element(self, buf: bytearray, n: int, out: list[Any]) -> int:
        """Continue the element at ``_es``; return its end, or -1 while it is unfinished."""
        if self._mode == PARSE:  # orjson followed it so far: the depth counter takes over
            self._begin(buf, self._es)
        if self._mode == _CONTAINER:
            if SKIM and n - self._sp > _skim.PIECE:
                end = self._skim_container(buf, n)
            else:
                end = self._scan_container(buf, n, n)
        elif self._mode == _STRING:
            e = strbody_match(buf, self._sp).end()
            end = e + 1 if e < n and buf[e] == _QUOTE else -1
            self._sp = e
        else:
            e = scalar_match(buf, self._sp).end()
            end = e if e < n else -1
            self._sp = e
        es = self._es
        if end < 0:
            if n - es > self._max:
                self._too_large(es)
            return -1
        self._emit(buf, es, end, out)
        return end

    def _scan_container(self, buf: bytearray, lim: int, n: int) -> int:
        """Follow brackets from ``self._sp`` to ``lim`` (a string goes on up to ``n``).

        Returns the element end or -1 (then the state is saved: inside a string that runs to
        ``n``, or at or past ``lim``).
        """
        sp = self._sp
        depth = self._depth
        if self._in_str:
            e = strbody_match(buf, sp).end()
            if e >= n or buf[e] != _QUOTE:
                self._sp = e
                return -1
            sp = e + 1
            self._in_str = False
        while sp < lim:
            sp = content_upto(buf, sp, lim).end()
            if sp >= lim:
                break
            c = buf[sp]
            if c == _QUOTE:  # a string the regex could not finish: it runs past lim
                e = strbody_match(buf, sp + 1).end()
                if e < n and buf[e] == _QUOTE:
                    sp = e + 1
                    continue
                self._in_str = True
                sp = e
                break
            depth += 1 if c in _OPENERS else -1
            sp += 1
            if depth == 0:
                return sp
        self._sp = sp
        self._depth = depth
        return -1

    def _skim_container(self, buf: bytearray, n: int) -> int:
        """:meth:`_scan_container` over a long stretch, skimmed (:mod:`._skim`).

        Up to the piece that holds the end, once the regexes have scanned the element's first
        ``PIECE`` bytes (most elements end there).
        """
        if self._sp - self._es <= _skim.PIECE:
            end = self._scan_container(buf, self._sp + _skim.PIECE, n)
            if end >= 0 or self._in_str:
                return end
        first = 4 * _skim.PIECE + self._sp - self._es  # as long again as it is so far
        self._sp, self._depth, self._in_str = _skim.skim(
            buf, self._sp, n, self._depth, in_str=self._in_str, first=first
        )
        return self._scan_container(buf, n, n)

    def _emit_run(self, buf: bytearray, p: int, r: int, out: list[Any]) -> None:
        """Emit the elements of ``buf[p:r]`` (elements each followed by a ',')."""
        k = buf.rfind(b",", p, r)
        if self._decode and k - p <= self._max:
            cand = buf[p - 1 : k + 1]
            cand[0] = _LBRACKET
            cand[-1] = _RBRACKET
            try:
                items = orjson.loads(cand)
            except orjson.JSONDecodeError:
                pass  # find the culprit (and its offset) one element at a time
            else:
                out += items
                self._size = (k - p) // len(items)
                return
        for m in ITEM_RE.finditer(buf, p, r):
            self._emit(buf, m.start(1), m.end(1), out)

    def _emit(self, buf: bytearray, es: int, ee: int, out: list[Any]) -> None:
        if ee - es > self._max:
            self._too_large(es)
        self._size = ee - es
        # a big element is passed as a temporary view (no copy), released when the call
        # returns or raises, so the buffer stays resizable
        big = ee - es > _COPY_MAX
        if not self._decode:
            out.append(bytes(memoryview(buf)[es:ee] if big else buf[es:ee]))
            return
        try:
            out.append(orjson.loads(memoryview(buf)[es:ee] if big else buf[es:ee]))
        except orjson.JSONDecodeError as err:
            offset = decode_error_offset(err, self._base + es)
            raise MalformedError(
                f"malformed JSON item at byte {offset} (item starts at byte {self._base + es}): "
                f"{err.msg}",
                offset,
            ) from None

    def _malformed(self, p: int, what: str, buf: bytearray) -> None:
        offset = self._base + p
        got = bytes(buf[p : p + 16])
        raise MalformedError(
            f"malformed JSON array at byte {offset}: {what}, got {got!r}; "
            "check that the response really is one JSON array (Content-Type / format)",
            offset,
        )

    def _too_large(self, es: int) -> None:
        offset = self._base + es
        raise ItemTooLargeError(
            f"item starting at byte {offset} exceeds max_item_bytes={self._max}; "
            "raise max_item_bytes if such items are expected",
            offset,
        )
