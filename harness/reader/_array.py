"""Incremental framing of one top-level JSON array whose elements arrive over time.

Two paths yield the same items at the same ``feed`` call:

* the *speculative* path (``decode=True``): find the last ``,``/``]`` in the pending bytes that
  leaves the brackets before it balanced, and let one ``orjson.loads(b"[" + run + b"]")`` validate
  and decode the whole run of elements. A valid candidate array proves the delimiter is a real
  top-level one (a ``,`` inside a string or a nested value makes the candidate invalid), so the
  split can never be wrong, only refused. Candidates: the last ``,{``, then the delimiters from
  the end, then the last place where an element starts like earlier ones (``{"id":``); runs
  start after a delimiter or at an element the previous chunk cut;
* the *exact* path: regular expressions with possessive quantifiers jump over strings and over
  nested containers up to ``_DEPTH`` levels deep; deeper nesting and elements cut by a chunk
  boundary are followed by a small depth counter that resumes where the previous chunk ended.

Every byte is scanned a bounded number of times (no rescans of old bytes), so the cost is linear
in the body length. An element is complete when its last byte arrives (``}``, ``]``, closing
``"``); a number or literal when the delimiter after it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import orjson

from harness.reader._types import (
    ItemTooLargeError,
    MalformedError,
    TruncatedError,
    decode_error_offset,
)

_DEPTH = 4  # nesting levels the regexes skip in one call; deeper ones use the depth counter
_MAX_CANDIDATES = 16  # delimiters tried from the end before giving up on speculation
_REREAD = 4  # speculate from an unfinished element's start if it is <= this x the new bytes
_SIG_MAX = 32  # longest element-start signature remembered
_SIG_TRIES = 64  # look-alike element starts tried (nested objects may start the same way)

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


_CONT = _nested(_DEPTH)


def _unclosed(depth: int) -> bytes:
    """A prefix of one container or string that runs, unclosed, to the end of the buffer."""
    partial_str = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+\\?\Z'
    pat = partial_str
    for _ in range(depth):
        inner = rb"(?>" + _PLAIN + b"|" + _STR + b"|" + _CONT + rb")*+"
        pat = rb"[\[{]" + inner + rb"(?:" + pat + rb")?\Z|" + partial_str
    return pat


_UNCLOSED_RE = re.compile(_unclosed(_DEPTH), re.DOTALL)
_ELEM = rb"(?:" + _STR + b"|" + _CONT + b"|" + _SCALAR + b")"
_SEP = _WS + rb"*+," + _WS + rb"*+"
_RUN_RE = re.compile(rb"(?:" + _ELEM + _SEP + rb")*+", re.DOTALL)
_ITEM_RE = re.compile(rb"(" + _ELEM + rb")" + _SEP, re.DOTALL)
_CONTENT_RE = re.compile(rb"(?>" + _PLAIN + b"|" + _STR + b"|" + _CONT + rb")*+", re.DOTALL)
_STRBODY_RE = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_SCALAR_TAIL_RE = re.compile(rb"[^ \t\n\r,\]]*+")
_WS_RE = re.compile(_WS + rb"*+")


# These patterns always match (possibly the empty string): typed as such, and called as bound
# methods (a wrapper function would cost a Python call per token on the hot path).
_AlwaysMatch = Callable[[bytearray, int], "re.Match[bytes]"]
_ws_match = cast("_AlwaysMatch", _WS_RE.match)
_run_match = cast("_AlwaysMatch", _RUN_RE.match)
_content_match = cast("_AlwaysMatch", _CONTENT_RE.match)
_strbody_match = cast("_AlwaysMatch", _STRBODY_RE.match)
_scalar_match = cast("_AlwaysMatch", _SCALAR_TAIL_RE.match)

_START, _EXPECT, _ELEMENT, _AFTER, _DONE = range(5)
_CONTAINER, _STRING, _NUMBER = range(3)
_QUOTE, _LBRACE, _LBRACKET, _RBRACKET, _COMMA = 0x22, 0x7B, 0x5B, 0x5D, 0x2C
_OPENERS = frozenset(b"{[")
_CLOSERS = frozenset(b"}]")
_WS_BYTES = frozenset(b" \t\n\r")
_TAIL_ENDS = frozenset(b'}"')  # an element ending here cannot continue in the next chunk


class ArrayFramer:
    """Cut a JSON array body into elements; see the module docstring for the algorithm."""

    def __init__(self, *, decode: bool, max_item_bytes: int, base: int = 0) -> None:
        self._decode = decode
        self._max = max_item_bytes
        self._buf = bytearray()
        self._base = base  # absolute body offset of _buf[0]
        self._state = _START
        self._pos = 0  # next byte to look at (relative to _buf)
        self._first = True  # in _EXPECT: no element yet, so ']' may close the array
        self._es = 0  # start of the element being scanned (_ELEMENT)
        self._sp = 0  # where scanning of that element resumes
        self._mode = _CONTAINER
        self._depth = 0
        self._in_str = False
        self._sig: bytes | None = None  # how elements start, learnt from the first run

    @property
    def complete(self) -> bool:
        """True once the closing ``]`` was seen."""
        return self._state == _DONE

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Append ``data``; return the elements it completed."""
        buf = self._buf
        buf += data
        out: list[Any] = []
        try:
            self._run(buf, out, len(data))
        except (MalformedError, ItemTooLargeError) as err:
            err.items = out
            raise
        self._compact()
        return out

    def finish(self) -> list[Any]:
        """End of body: raise :class:`TruncatedError` unless the array was closed."""
        if self._state != _DONE:
            where = {
                _START: "the body is empty (no '[')",
                _EXPECT: "the body ended before the closing ']'",
                _AFTER: "the body ended before the closing ']'",
                _ELEMENT: "the body ended inside an item",
            }[self._state]
            offset = self._base + len(self._buf)
            raise TruncatedError(
                f"truncated JSON array at byte {offset}: {where}; the server closed the stream "
                "early (execution limit, crash or reset) or the format is not a JSON array",
                offset,
            )
        return []

    # -- the state machine -------------------------------------------------------------------

    def _run(self, buf: bytearray, out: list[Any], fresh: int) -> None:
        n = len(buf)
        p = self._pos
        st = self._state
        spec = self._decode  # cleared after a failed speculation: one try per feed and region
        run = not spec  # the run regex pays off in raw mode, or after an exact element
        while p < n:
            # an element cut by the previous chunk may be finished here: speculate from its
            # start too, if that does not re-read much more than this chunk (linear time)
            if spec and (st == _EXPECT or (st == _ELEMENT and n - self._es <= _REREAD * fresh)):
                res = self._speculate(buf, p if st == _EXPECT else self._es, n)
                if res is None:
                    spec = False
                    continue
                j, items, last = res
                out += items
                p = j + 1
                self._first = False
                if buf[j] == _RBRACKET:
                    st = _DONE
                    continue
                st = _EXPECT
                if self._lazy_tail(buf, p, n, last=last):
                    break
                spec = False
            elif st == _EXPECT:
                p, st = self._expect(buf, p, n, out, run=run)
            elif st == _ELEMENT:
                p, st = self._element(buf, n, out)
                run = True
            else:
                p, st = self._punct(buf, p, n, st)
        self._pos = p
        self._state = st

    def _punct(self, buf: bytearray, p: int, n: int, st: int) -> tuple[int, int]:
        """Between items: '[' at the start, ',' or ']' after an item, nothing after the end."""
        p = _ws_match(buf, p).end()
        if p >= n:
            return p, st
        c = buf[p]
        if st == _AFTER:
            if c == _COMMA:
                return p + 1, _EXPECT
            if c == _RBRACKET:
                return p + 1, _DONE
            self._malformed(p, "expected ',' or ']' after an item", buf)
        if st == _START:
            if c != _LBRACKET:
                self._malformed(p, "expected '[' (a JSON array)", buf)
            return p + 1, _EXPECT
        self._malformed(p, "unexpected data after the closing ']'", buf)
        raise AssertionError  # pragma: no cover - _malformed always raises

    def _lazy_tail(self, buf: bytearray, p: int, n: int, *, last: bool) -> bool:
        """Tell whether the rest may wait, unscanned, for the next chunk (after speculation).

        Only when it is certainly one unfinished container or string (or malformed), so items
        of a valid body are never reported later than the exact path would: it starts with
        ``{``, ``[`` or ``"``, its last byte cannot end one, and either it holds no ',' or ']'
        (``last``: the candidate was the last delimiter) or a regex proves it is an unclosed
        prefix. Else: the exact way, now.
        """
        q = _ws_match(buf, p).end()
        if q >= n:
            return True
        first = buf[q]
        if n - q > self._max:
            return False
        end = n - 1
        while buf[end] in _WS_BYTES:
            end -= 1
        if first in _OPENERS:
            if buf[end] in _CLOSERS:  # it may have just closed: let the exact path tell
                return False
        elif first != _QUOTE or buf[end] == _QUOTE:
            return False
        return last or _UNCLOSED_RE.match(buf, q) is not None

    def _expect(
        self, buf: bytearray, p: int, n: int, out: list[Any], *, run: bool
    ) -> tuple[int, int]:
        """Exact path at the start of an element (or, with ``run``, of a run of elements).

        ``run`` is off right after a refused speculation: the first element is then most likely
        cut by the chunk end, and a run regex would scan it in vain.
        """
        p = _ws_match(buf, p).end()
        if p >= n:
            return p, _EXPECT
        c = buf[p]
        if c == _RBRACKET:
            if not self._first:
                self._malformed(p, "expected an item after ',' (trailing comma)", buf)
            return p + 1, _DONE
        if c == _COMMA:
            self._malformed(p, "expected an item", buf)
        if self._decode and self._whole_tail(buf, p, n, out):
            self._first = False
            return n, _AFTER
        if run:
            r = _run_match(buf, p).end()
            if r > p:
                self._emit_run(buf, p, r, out)
                self._first = False
                return r, _EXPECT
        self._first = False
        if self._sig is None:
            self._learn(buf, p, n)
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
        return self._element(buf, n, out)

    def _whole_tail(self, buf: bytearray, p: int, n: int, out: list[Any]) -> bool:
        """The usual server write: exactly one element that ends the buffer. Decode it at once.

        Only an object or a string qualifies (a number could go on in the next chunk, and a
        trailing ']' could close the array instead); if orjson accepts the bytes, they are one
        complete element. Otherwise nothing happened and the exact path takes over.
        """
        end = n - 1
        while end > p and buf[end] in _WS_BYTES:
            end -= 1
        if buf[end] not in _TAIL_ENDS or end - p >= self._max:
            return False
        try:
            out.append(orjson.loads(buf[p : end + 1]))
        except orjson.JSONDecodeError:
            return False
        return True

    def _element(self, buf: bytearray, n: int, out: list[Any]) -> tuple[int, int]:
        """Continue an element cut by a chunk boundary; return (position, state)."""
        if self._mode == _CONTAINER:
            end = self._scan_container(buf, n)
        elif self._mode == _STRING:
            e = _strbody_match(buf, self._sp).end()
            end = e + 1 if e < n and buf[e] == _QUOTE else -1
            self._sp = e
        else:
            e = _scalar_match(buf, self._sp).end()
            end = e if e < n else -1
            self._sp = e
        es = self._es
        if end < 0:
            if n - es > self._max:
                self._too_large(es)
            return n, _ELEMENT
        self._emit(buf, es, end, out)
        return end, _AFTER

    def _scan_container(self, buf: bytearray, n: int) -> int:
        """Follow brackets from ``self._sp``; return the element end or -1 if unfinished."""
        sp = self._sp
        depth = self._depth
        if self._in_str:
            e = _strbody_match(buf, sp).end()
            if e >= n or buf[e] != _QUOTE:
                self._sp = e
                return -1
            sp = e + 1
            self._in_str = False
        while True:
            sp = _content_match(buf, sp).end()
            if sp >= n:
                break
            c = buf[sp]
            if c == _QUOTE:  # a string the regex could not finish: it runs past the end
                e = _strbody_match(buf, sp + 1).end()
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

    # -- speculation -------------------------------------------------------------------------

    def _speculate(self, buf: bytearray, p: int, n: int) -> tuple[int, list[Any], bool] | None:
        """Decode the longest run ``buf[p:j]`` of whole elements with one orjson call.

        Returns ``(j, items, j is the last delimiter)`` or None when no candidate decodes.
        """
        j, first = self._walk(buf, p, n)
        if j < 0:
            j = self._by_signature(buf, p, n)
            first = False
        if j < 0 or j - p > self._max:
            return None
        cand = buf[p - 1 : j + 1]  # p - 1 is the '[' or ',' before the run
        cand[0] = _LBRACKET
        cand[-1] = _RBRACKET
        try:
            items = orjson.loads(cand)
        except orjson.JSONDecodeError:
            return None
        if not items:
            return None
        if self._sig is None:
            self._learn(buf, _ws_match(buf, p).end(), j)
        return j, items, first

    def _walk(self, buf: bytearray, p: int, n: int) -> tuple[int, bool]:
        """The last ``,``/``]`` with balanced brackets before it, and whether it is the last one.

        Only the bracket kind of the first element is counted (``{}`` for objects, ``[]`` for
        arrays, none for strings and scalars), with ``bytes.count``, blind to strings: a bracket
        inside a string, or a mixed-type array, only costs a refused candidate (orjson has the
        last word). The quick try is the last ``,{`` (``,[``); then the delimiters from the end,
        at most ``_MAX_CANDIDATES``. -1 when none is found.
        """
        q = _ws_match(buf, p).end()
        kind = buf[q] if q < n else 0
        if kind == _LBRACE:
            op, cl, pair = b"{", b"}", b",{"
        elif kind == _LBRACKET:
            op, cl, pair = b"[", b"]", b",["
        else:
            op = cl = pair = b""
        # a ']' can only close the array as the last non-blank byte (else: malformed anyway)
        last = n - 1
        while last >= p and buf[last] in _WS_BYTES:
            last -= 1
        js = last if last >= p and buf[last] == _RBRACKET else -1
        if pair:
            j = max(buf.rfind(pair, p, n), js)
            if j >= 0 and buf.count(op, p, j) == buf.count(cl, p, j):
                tail_clear = buf.find(b",", j + 1, n) < 0 and buf.find(b"]", j + 1, n) < 0
                return j, j == js or tail_clear
        balance = buf.count(op, p, n) - buf.count(cl, p, n) if op else 0
        jc = buf.rfind(b",", p, n)
        end = n
        for tried in range(_MAX_CANDIDATES):
            j = jc if jc > js else js
            if j < 0:
                break
            if op:  # move the counted tail [j, n) back to j: the rest is the balance of [p, j)
                balance -= buf.count(op, j, end) - buf.count(cl, j, end)
            end = j
            if balance == 0:
                return j, tried == 0
            if j == jc:
                jc = buf.rfind(b",", p, j)
            else:
                js = -1
        return -1, False

    def _by_signature(self, buf: bytearray, p: int, n: int) -> int:
        """Find the ',' before the last element that starts like earlier ones (e.g. ``{"id":``).

        For big elements whose unfinished tail holds more commas than the walk tries.
        """
        sig = self._sig
        if sig is None:
            return -1
        balance = buf.count(b"{", p, n) - buf.count(b"}", p, n)
        end = n
        k = buf.rfind(sig, p + 1, n)
        for _ in range(_SIG_TRIES):
            if k <= p:
                break
            j = buf.rfind(b",", p, k)
            if j < 0:
                break
            # as in _walk: drop the counts of [j, end) so ``balance`` is that of [p, j)
            balance -= buf.count(b"{", j, end) - buf.count(b"}", j, end)
            end = j
            if balance == 0 and _ws_match(buf, j + 1).end() == k:
                return j
            k = buf.rfind(sig, p + 1, j)
        return -1

    def _learn(self, buf: bytearray, q: int, j: int) -> None:
        """Remember how elements start: an object's bytes through its first ``:``."""
        if q < j and buf[q] == _LBRACE:
            k = buf.find(b":", q, min(j, q + _SIG_MAX))
            if k > 0:
                self._sig = bytes(buf[q : k + 1])

    # -- emitting items ----------------------------------------------------------------------

    def _emit_run(self, buf: bytearray, p: int, r: int, out: list[Any]) -> None:
        """Emit the elements of ``buf[p:r]`` (elements each followed by a ',')."""
        k = buf.rfind(b",", p, r)
        if self._decode and k - p <= self._max:
            cand = buf[p - 1 : k + 1]
            cand[0] = _LBRACKET
            cand[-1] = _RBRACKET
            try:
                out += orjson.loads(cand)
            except orjson.JSONDecodeError:
                pass  # find the culprit (and its offset) one element at a time
            else:
                return
        for m in _ITEM_RE.finditer(buf, p, r):
            self._emit(buf, m.start(1), m.end(1), out)

    def _emit(self, buf: bytearray, es: int, ee: int, out: list[Any]) -> None:
        if ee - es > self._max:
            self._too_large(es)
        if not self._decode:
            out.append(bytes(buf[es:ee]))
            return
        try:
            out.append(orjson.loads(buf[es:ee]))
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

    def _compact(self) -> None:
        """Drop consumed bytes (O(1): bytearray deletes its head in place)."""
        st = self._state
        if st == _ELEMENT:
            keep = self._es - 1  # with the byte before: speculation overwrites it with '['
        elif st == _EXPECT:
            keep = self._pos - 1  # keep the delimiter: speculation overwrites it with '['
        else:
            keep = self._pos
        if keep > 0:
            del self._buf[:keep]
            self._base += keep
            self._pos -= keep
            self._es -= keep
            self._sp -= keep
