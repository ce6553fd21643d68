"""Incremental framing of one top-level JSON array whose elements arrive over time.

At each element start the framer takes the cheapest way that is sure (see ``_start``):

* *one whole element* ends the buffer (the usual one-item server write): one ``orjson.loads``;
* *a guessed run* (once per ``feed``): the last top-level delimiter is guessed (the last ``,``
  followed by the signature of earlier elements, e.g. ``,{"id":``; balanced brackets; ...)
  and one ``orjson.loads(b"[" + run + b"]")`` checks and decodes the whole run; raw mode cuts
  the run at every such ``,`` and checks each piece instead (:mod:`._speculate`);
* *orjson boundaries*, from an element start that is ``{``, ``[`` or ``"``: ``orjson.loads``
  of the bytes from there returns the value (they are exactly one element), or raises
  "unexpected content after document" at the first byte after it (found at C speed, with no
  objects built), or "unexpected end of data" (unfinished). Complete elements are decoded
  together; an unfinished one is parsed again by the next ``feed`` while that re-reads at
  most ``_REREAD`` times the new bytes (and at most ``_FOLLOW`` bytes or twice the new ones);
* the *exact path* (:mod:`._exact`) for everything else: numbers and literals, anything
  orjson refuses (invalid JSON or UTF-8, nesting deeper than orjson allows), elements much
  longer than the chunks, small raw elements. Long stretches of a container are skimmed with
  whole-bytes operations (:mod:`._skim`), which give the scanner's exact state, so a big
  element costs about one pass at C speed plus the one ``orjson.loads`` that decodes it.

orjson results are only ever used as proofs (a valid JSON value that starts at an element
start *is* that element; values joined by commas can only be read one way), so a wrong split
is impossible, only a refused one: every way yields the same items at the same ``feed`` call
and the same errors (kind, offset, items before) as the exact path alone. Every byte is parsed
or scanned a bounded number of times, so the cost is linear in the body length. An element is
complete when its last byte arrives (``}``, ``]``, closing ``"``); a number or literal when
the delimiter after it arrives.
"""

from __future__ import annotations

from typing import Any

import orjson

from harness.reader import _exact
from harness.reader._exact import PARSE, ExactPath, run_match, ws_match
from harness.reader._speculate import (
    COMPLETE,
    REFUSED,
    UNFINISHED,
    blank_back,
    char_end,
    parse_value,
    signature,
    speculate,
    split_run,
)
from harness.reader._types import ItemTooLargeError, MalformedError, TruncatedError

_REREAD = 8  # parse an unfinished element again while it is <= this x the new bytes
_SPEC_REREAD = 4  # speculate from an unfinished element's start while it is <= this x
_WINDOW_MIN = 2048  # first orjson window from an element start; then 4x the last element
_SMALL_RAW = 128  # raw elements smaller than this: the run regex beats one orjson call each
_RAW_SPLIT_MAX = 4096  # raw elements up to this size: split at the signature, decode to check
_SHORT = 128  # a tail this short that does not end like an element is followed exactly
_FOLLOW = 65536  # skimming: an unfinished element this long (and 2x fresh) is followed
_PACED = True  # the one-element ``,{...}`` chunk shortcut (tests turn it off for the reference)


_START, _EXPECT, _ELEMENT, _AFTER, _DONE = range(5)
_QUOTE, _LBRACKET, _RBRACKET, _COMMA = 0x22, 0x5B, 0x5D, 0x2C
_OPENERS = frozenset(b"{[")
_PARSED = frozenset(b'{["')  # element starts the orjson boundaries handle
_CLOSER = {0x7B: 0x7D, 0x5B: 0x5D, 0x22: 0x22}  # and their last bytes
_LBRACE, _RBRACE = 0x7B, 0x7D
_NOTHING = object()  # _next_whole: not the usual paced write


class ArrayFramer(ExactPath):
    """Cut a JSON array body into elements; see the module docstring for the algorithm."""

    def __init__(self, *, decode: bool, max_item_bytes: int, base: int = 0) -> None:
        super().__init__(decode=decode, max_item_bytes=max_item_bytes, base=base)
        self._buf = bytearray()  # the unconsumed bytes; _base is the offset of _buf[0]
        self._state = _START
        self._pos = 0  # next byte to look at (relative to _buf)
        self._first = True  # in _EXPECT: no element yet, so ']' may close the array
        self._sig: bytes | None = None  # how elements start, learnt from the first run
        self._sep: bytes | None = None  # from a top-level ',' through the next signature
        self._size = _SMALL_RAW  # length of the last element (a guess until one is seen)
        self._guess_ok = True  # per feed: see _run
        self._parse_ok = True

    @property
    def complete(self) -> bool:
        """True once the closing ``]`` was seen."""
        return self._state == _DONE

    @property
    def partial(self) -> bool:
        """True while bytes of an unfinished element are held (not between elements)."""
        return self._state == _ELEMENT

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Append ``data``; return the elements it completed."""
        if _PACED and self._state == _AFTER and not self._buf:
            item = self._next_whole(data)
            if item is not _NOTHING:
                return [item]
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

    def _next_whole(self, data: bytes | bytearray | memoryview) -> Any:
        """The usual paced write right after an element, ``,{...}``: one orjson call, no buffer.

        Only a chunk that is a ``,`` and then one object with no blanks around it; when orjson
        accepts the object, it is that element (anything else returns ``_NOTHING`` and goes the
        usual way, which reports errors). Skips the state machine's per-chunk steps: a paced
        stream delivers nearly every item like this.
        """
        if len(data) < 3 or data[0] != _COMMA or data[1] != _LBRACE or data[-1] != _RBRACE:
            return _NOTHING
        value = self._one(data, 1, len(data))
        if value is not _NOTHING:
            self._base += len(data)
        return value

    def _one(self, data: bytes | bytearray | memoryview, q: int, end: int) -> Any:
        """``data[q:end]`` as one element if orjson accepts it (and its size is plausible).

        Returns the value (raw mode: the bytes) or ``_NOTHING``; a failed try costs the parse
        of the first element only. Raw mode decodes to check only small elements (cheaper than
        an orjson error); a chunk far bigger than the last element holds many: the guessed run
        is the way.
        """
        if end - q > min(self._max, 4 * self._size + 256) or not (
            self._decode or self._size <= _RAW_SPLIT_MAX
        ):
            return _NOTHING
        try:
            # A temporary view: freed when loads returns, so a bytearray buffer stays resizable.
            value = orjson.loads(memoryview(data)[q:end])
        except orjson.JSONDecodeError:
            return _NOTHING
        self._size = end - q
        return value if self._decode else bytes(data[q:end])

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
        self._guess_ok = True  # one guessed run per feed (it re-reads the pending bytes)
        self._parse_ok = True  # orjson boundaries, until orjson refuses something in this feed
        while p < n:
            if st == _EXPECT:
                q = ws_match(buf, p).end()
                if q >= n:
                    p = q
                    break
                if buf[q] == _RBRACKET or buf[q] == _COMMA:
                    p, st = self._expect(buf, q, n, out, run=False)
                    continue
            elif st == _ELEMENT:
                q = self._es
                if n - q > _REREAD * fresh or (
                    n - q > _FOLLOW and n - q > 2 * fresh and _exact.SKIM
                ):  # too long to read again: follow it exactly (skimming: sooner)
                    p, st = self._follow(buf, n, out)
                    continue
            else:
                p, st = self._punct(buf, p, n, st)
                continue
            p, st = self._start(buf, q, n, st, out=out, fresh=fresh)
        self._pos = p
        self._state = st

    def _start(
        self, buf: bytearray, q: int, n: int, st: int, *, out: list[Any], fresh: int
    ) -> tuple[int, int]:
        """Go on from an element start ``q`` (new, or cut by the previous chunk).

        The cheapest way that is sure; returns the next (position, state).
        """
        if st == _EXPECT and self._whole(buf, q, n, out):
            return n, _AFTER
        if self._guess_ok and (st == _EXPECT or n - q <= _SPEC_REREAD * fresh):
            self._guess_ok = not self._decode and self._sig is None  # raw: needs a signature
            res = self._guess(buf, q, n)
            if res is not None:
                return self._speculated(buf, q, res, out)
        if st == _ELEMENT and self._mode != PARSE:
            return self._follow(buf, n, out)
        if self._parse_ok and self._cannot_have_ended(buf, q, n):
            self._first = False
            self._es = q
            self._mode = PARSE
            return self._follow_later(q, n)
        if self._parse_ok and self._worth_parsing(buf, q, n, fresh):
            with memoryview(buf) as view:  # released before the buffer is resized
                p, st, self._parse_ok = self._fast(buf, view, q, n, out)
            return p, st
        # a short tail most likely holds one unfinished element: no run regex
        return self._expect(buf, q, n, out, run=self._size <= fresh and n - q > _SHORT)

    def _whole(self, buf: bytearray, q: int, n: int, out: list[Any]) -> bool:
        """The usual server write: one element that ends the buffer. Decode it at once.

        Only when the last non-blank byte can end the element at ``q``; if orjson accepts
        the bytes, they are that one element (:meth:`_one`). Otherwise nothing happened.
        """
        if buf[q] not in _PARSED:
            return False
        end = blank_back(buf, n)
        if buf[end - 1] != _CLOSER[buf[q]]:
            return False
        value = self._one(buf, q, end)
        if value is _NOTHING:
            return False
        out.append(value)
        self._first = False
        return True

    def _guess(self, buf: bytearray, q: int, n: int) -> tuple[int, list[Any]] | None:
        """A run of whole elements from ``q``, proven by orjson (see ``_speculate``)."""
        if self._decode:
            return speculate(buf, q, n, sig=self._sig, sep=self._sep, limit=self._max)
        if self._sig is None or self._sep is None or self._size > _RAW_SPLIT_MAX:
            return None  # big elements: an orjson error per element is cheaper than decoding
        return split_run(buf, q, n, sig=self._sig, sep=self._sep, limit=self._max)

    def _split_next(self) -> bool:
        """Raw mode: the next elements are for :func:`split_run` (cheaper than one by one)."""
        return not self._decode and self._sep is not None and self._size <= _RAW_SPLIT_MAX

    def _speculated(
        self, buf: bytearray, q: int, res: tuple[int, list[Any]], out: list[Any]
    ) -> tuple[int, int]:
        """Take the items of a successful speculation; return the next (position, state)."""
        j, items = res
        out += items
        self._first = False
        if self._sig is None:
            self._sig = signature(buf, q, j)
        self._size = (j - q) // len(items)
        if buf[j] == _RBRACKET:
            return j + 1, _DONE
        self._learn_sep(buf, j)
        return j + 1, _EXPECT

    def _learn_sep(self, buf: bytearray, j: int) -> None:
        """Remember the bytes from the top-level ',' at ``j`` through the next signature."""
        sig = self._sig
        if self._sep is None and sig is not None:
            q = ws_match(buf, j + 1).end()
            if buf.startswith(sig, q):
                self._sep = bytes(buf[j:q]) + sig

    def _cannot_have_ended(self, buf: bytearray, q: int, n: int) -> bool:
        """A tail that is one unfinished element, certainly: no need to parse it now.

        A string with no other ``"``, or a container with no closing bracket at all (the usual
        tail of a chunk of elements that start alike, once speculation took the rest).
        """
        c = buf[q]
        if c == _QUOTE:
            return buf.find(b'"', q + 1, n) < 0
        return c in _OPENERS and buf.find(b"}", q, n) < 0 and buf.find(b"]", q, n) < 0

    def _follow_later(self, q: int, n: int) -> tuple[int, int]:
        """Leave the unfinished element at ``q`` to the next chunk (after the size check)."""
        if n - q > self._max:
            self._too_large(q)
        return n, _ELEMENT

    def _worth_parsing(self, buf: bytearray, q: int, n: int, fresh: int) -> bool:
        """Whether orjson boundaries beat the exact path for the element at ``q``.

        Not when the element is likely to run past this chunk by far (judged by the last one:
        parsing it again in every chunk would cost more than following it), not for small
        raw elements (a failed parse costs an exception: the run regex is cheaper), and not
        for a short tail that cannot have ended (its last byte closes nothing).
        """
        if buf[q] not in _PARSED or self._size > _REREAD * fresh:
            return False
        if not self._decode and (self._size < _SMALL_RAW or buf[q] == _QUOTE):
            return False  # raw strings: the string regex runs at memchr speed
        return n - q > _SHORT or buf[blank_back(buf, n) - 1] == _CLOSER[buf[q]]

    def _punct(self, buf: bytearray, p: int, n: int, st: int) -> tuple[int, int]:
        """Between items: '[' at the start, ',' or ']' after an item, nothing after the end."""
        p = ws_match(buf, p).end()
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

    # -- orjson boundaries -------------------------------------------------------------------

    def _fast(
        self, buf: bytearray, view: memoryview, q: int, n: int, out: list[Any]
    ) -> tuple[int, int, bool]:
        """Elements from ``q`` (a ``{``, ``[`` or ``"``) by orjson boundaries.

        Returns the next (position, state) and False if orjson refused the element there
        (then it is at an element start, in ``_EXPECT``: the exact path takes it).
        """
        lim = char_end(buf, q, n)
        spans: list[int] = []  # start, end, start, end...: complete elements not yet emitted
        try:
            while True:
                verdict, k, value = self._parse(buf, view, q, lim)
                if verdict == REFUSED:
                    return q, _EXPECT, False
                if verdict == UNFINISHED:
                    self._first = False
                    self._es = q
                    self._mode = PARSE
                    return (*self._follow_later(q, n), True)
                e = blank_back(buf, k)  # the value ends before the blanks up to k
                if e - q > self._max:
                    self._too_large(q)
                if self._first:
                    self._first = False
                    self._sig = self._sig or signature(buf, q, e)
                self._size = e - q
                if verdict == COMPLETE:  # the window ends with this element
                    self._flush(buf, view, spans, out)
                    out.append(value if self._decode else bytes(buf[q:e]))
                    return k, _AFTER, True
                spans += (q, e)
                c = buf[k]
                if c != _COMMA:
                    return (k + 1, _DONE, True) if c == _RBRACKET else (k, _AFTER, True)
                self._learn_sep(buf, k)
                q = ws_match(buf, k + 1).end()
                if q >= n or buf[q] not in _PARSED or self._split_next():
                    return k + 1, _EXPECT, True
        finally:
            self._flush(buf, view, spans, out)

    def _parse(self, buf: bytearray, view: memoryview, q: int, lim: int) -> tuple[int, int, Any]:
        """:func:`parse_value` in a window that grows 4x while the element goes on.

        The window starts at a few times the last element's length, so a chunk of many
        elements is not converted to text for every element (orjson puts the whole input
        in its error), and never goes past ``max_item_bytes`` + 1.
        """
        cap = min(lim, q + self._max + 1)
        size = min(cap - q, max(_WINDOW_MIN, 4 * self._size))
        while True:
            end = q + size
            if end < lim:  # cut back to a character boundary (an element cannot end there)
                end = char_end(buf, q, end)
            verdict, k, value = parse_value(view, q, end)
            if verdict != UNFINISHED or q + size >= cap:
                return verdict, k, value
            size = min(cap - q, 4 * size)

    def _flush(self, buf: bytearray, view: memoryview, spans: list[int], out: list[Any]) -> None:
        """Emit the complete elements in ``spans`` (consecutive ones: one orjson call)."""
        if not spans:
            return
        if not self._decode:
            out += [bytes(buf[spans[i] : spans[i + 1]]) for i in range(0, len(spans), 2)]
        elif len(spans) == 2:
            out.append(orjson.loads(view[spans[0] : spans[1]]))
        else:
            cand = buf[spans[0] - 1 : spans[-1] + 1]  # the bytes around: a delimiter or blank
            cand[0] = _LBRACKET
            cand[-1] = _RBRACKET
            try:
                out += orjson.loads(cand)
            except orjson.JSONDecodeError:  # '[' adds a level: an element at orjson's depth limit
                out += [
                    orjson.loads(view[spans[i] : spans[i + 1]]) for i in range(0, len(spans), 2)
                ]
        spans.clear()

    # -- the exact path ----------------------------------------------------------------------

    def _expect(
        self, buf: bytearray, p: int, n: int, out: list[Any], *, run: bool
    ) -> tuple[int, int]:
        """Exact path at the start of an element (or, with ``run``, of a run of elements).

        ``run`` is off when the element is likely to be cut by the chunk end: a run regex
        would scan it in vain.
        """
        c = buf[p]
        if c == _RBRACKET:
            if not self._first:
                self._malformed(p, "expected an item after ',' (trailing comma)", buf)
            return p + 1, _DONE
        if c == _COMMA:
            self._malformed(p, "expected an item", buf)
        self._first = False
        if run:
            r = run_match(buf, p).end()
            if r > p:
                self._emit_run(buf, p, r, out)
                return r, _EXPECT
        if self._sig is None:
            self._sig = signature(buf, p, n)
        self._begin(buf, p)
        return self._follow(buf, n, out)

    def _follow(self, buf: bytearray, n: int, out: list[Any]) -> tuple[int, int]:
        """The exact path through the element at ``_es``; return the next (position, state)."""
        end = self._element(buf, n, out)
        return (n, _ELEMENT) if end < 0 else (end, _AFTER)

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
