"""Element boundaries of a JSON array found by orjson, at C speed, instead of by Python scanning.

Three tools, each of which can only be refused, never wrong, because orjson has the last word:

* :func:`parse_value`: ``orjson.loads`` of the bytes from an element start. On ``{…},{…`` it
  raises "unexpected content after document" with ``pos`` at the first non-blank byte after the
  first value, i.e. just past the element's end (having only *parsed* it: no Python objects are
  built on an error); on a valid prefix it raises "unexpected end of data" at the end of the
  data; on the exact bytes of one value it returns the value. Anything else (invalid JSON,
  invalid UTF-8 anywhere in the window, nesting deeper than orjson's limit) is a refusal.
* :func:`speculate`: guess the last top-level delimiter of the pending bytes (the last ``,``
  followed by the signature of earlier elements, the last ``,{`` with balanced braces,
  delimiters from the end, or the ``,`` before the last element that starts like earlier ones)
  and let one ``orjson.loads(b"[" + run + b"]")`` validate and decode the whole run. A ``,``
  inside a string or a nested value makes the candidate invalid.
* :func:`split_run` (raw mode): cut a run at every ``,`` + signature and check each piece.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

COMPLETE, FOLLOWED, UNFINISHED, REFUSED = range(4)

_MAX_CANDIDATES = 16  # delimiters tried from the end before giving up on the walk
_SIG_MAX = 32  # longest element-start signature remembered
_SIG_TRIES = 64  # look-alike element starts tried (nested objects may start the same way)
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 0x7B, 0x7D, 0x5B, 0x5D
_WS_BYTES = frozenset(b" \t\n\r")
_TRAILING = "unexpected content after"
_EOF = "unexpected end of"


def parse_value(view: memoryview, q: int, end: int) -> tuple[int, int, Any]:
    """Parse the element that starts at ``q`` (``{``, ``[`` or ``"``) in ``view[q:end]``.

    Returns ``(verdict, position, value)``:

    * ``COMPLETE, end, value``: the window is exactly one value (and blanks);
    * ``FOLLOWED, k, None``: a whole value starts at ``q``; ``k`` is the first non-blank byte
      after it (the value ends at the last non-blank byte before ``k``);
    * ``UNFINISHED, end, None``: the window is a valid prefix of a value;
    * ``REFUSED, q, None``: anything else; the caller must use an exact scanner.

    ``end`` must not cut a UTF-8 character (see :func:`char_end`).
    """
    try:
        return COMPLETE, end, orjson.loads(view[q:end])
    except orjson.JSONDecodeError as err:
        doc = err.doc
        pos = err.pos
        if not isinstance(doc, str) or not doc or not 0 < pos <= len(doc):
            return REFUSED, q, None  # invalid UTF-8 (reported at 0 with no text) and the like
        if pos == len(doc):
            return (UNFINISHED, end, None) if err.msg.startswith(_EOF) else (REFUSED, q, None)
        if not err.msg.startswith(_TRAILING):
            return REFUSED, q, None
        if len(doc) != end - q:  # not ASCII: orjson counts characters, we count bytes
            pos = len(doc[:pos].encode("utf-8", "surrogatepass"))
        return FOLLOWED, q + pos, None


def char_end(buf: bytearray, q: int, n: int) -> int:
    """``n``, or the start of a UTF-8 character that ``n`` cuts (not before ``q``).

    orjson validates the UTF-8 of its whole input first, so a window must not end inside a
    character. The bytes dropped are non-ASCII, and an element never ends on one.
    """
    i = n
    while i > q and n - i < 4 and buf[i - 1] & 0xC0 == 0x80:  # continuation bytes
        i -= 1
    if i == q or buf[i - 1] < 0xC0:
        return n  # an ASCII byte last, or invalid UTF-8 (orjson will say so)
    lead = buf[i - 1]
    size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return n if n - i + 1 >= size else i - 1


def blank_back(buf: bytearray, k: int) -> int:
    """The end of the value before position ``k`` (skip blanks backwards)."""
    while buf[k - 1] in _WS_BYTES:
        k -= 1
    return k


# -- run speculation -------------------------------------------------------------------------


def speculate(
    buf: bytearray, p: int, n: int, *, sig: bytes | None, sep: bytes | None, limit: int
) -> tuple[int, list[Any]] | None:
    """Decode the longest run ``buf[p:j]`` of whole elements with one orjson call.

    ``buf[p - 1]`` is the ``[`` or ``,`` before the run (or a blank). Returns ``(j, items)``,
    ``buf[j]`` being the ``,`` or ``]`` after the run, or None when no candidate decodes.
    The first guess, for elements that start alike, costs no counting: the last ``sep`` (the
    bytes from a ``,`` through the signature; a nested look-alike costs a refused parse).
    """
    if sep is not None:
        j = buf.rfind(sep, p, n)
        items = _decode_run(buf, p, j, limit) if j > p else None
        if items:
            return j, items
    j = _walk(buf, p, n)
    if j < 0 and sig is not None:
        j = _by_signature(buf, p, n, sig)
    items = _decode_run(buf, p, j, limit) if j > p else None
    return (j, items) if items else None


def split_run(
    buf: bytearray, p: int, n: int, *, sig: bytes, sep: bytes, limit: int
) -> tuple[int, list[bytes]] | None:
    """Raw mode: the elements of ``buf[p:j]``, ``j`` being the last ``sep``.

    ``sep`` is the bytes from a ``,`` through the signature ``sig`` of the next element. The
    run is cut at every ``sep`` (C speed; ``sig`` is put back); each piece must start with
    ``{`` and end with ``}`` and be valid JSON on its own (``map(orjson.loads)``, no Python
    loop). Values joined by commas can only be read one way, so the pieces are the elements.
    Returns ``(j, pieces)`` or None when the guess is refused.
    """
    j = buf.rfind(sep, p + 1, n)
    if j < 0 or buf[p] != _LBRACE or buf[j - 1] != _RBRACE:
        return None
    run = bytes(buf[p:j])
    pieces = run.split(sep)
    items = pieces[:1]
    items += [sig + piece for piece in pieces[1:]]  # bytes.split beats a look-ahead regex
    # every cut follows a '}' (a piece never ends with blanks), no piece is too big
    if run.count(b"}" + sep) != len(items) - 1 or max(map(len, items)) > limit:
        return None
    try:
        deque(map(orjson.loads, items), maxlen=0)
    except orjson.JSONDecodeError:
        return None
    return j, items


def _decode_run(buf: bytearray, p: int, j: int, limit: int) -> list[Any] | None:
    """``orjson.loads(b"[" + buf[p:j] + b"]")``, or None if that is not valid JSON."""
    if j - p > limit:
        return None
    cand = buf[p - 1 : j + 1]
    cand[0] = _LBRACKET
    cand[-1] = _RBRACKET
    try:
        items: list[Any] = orjson.loads(cand)
    except orjson.JSONDecodeError:
        return None
    return items


def _walk(buf: bytearray, p: int, n: int) -> int:
    """The last ``,``/``]`` with balanced brackets before it, or -1.

    Only the bracket kind of the first element is counted (``{}`` for objects, ``[]`` for
    arrays, none for strings and scalars), with ``bytes.count``, blind to strings: a bracket
    inside a string, or a mixed-type array, only costs a refused candidate (orjson has the
    last word). The quick try is the last ``,{`` (``,[``); then the delimiters from the end,
    at most ``_MAX_CANDIDATES``.
    """
    q = _skip_blank(buf, p, n)
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
            return j
    balance = buf.count(op, p, n) - buf.count(cl, p, n) if op else 0
    jc = buf.rfind(b",", p, n)
    end = n
    for _ in range(_MAX_CANDIDATES):
        j = jc if jc > js else js
        if j < 0:
            break
        if op:  # move the counted tail [j, end) back to j: the rest is the balance of [p, j)
            balance -= buf.count(op, j, end) - buf.count(cl, j, end)
        end = j
        if balance == 0:
            return j
        if j == jc:
            jc = buf.rfind(b",", p, j)
        else:
            js = -1
    return -1


def _by_signature(buf: bytearray, p: int, n: int, sig: bytes) -> int:
    """Find the ',' before the last element that starts like earlier ones (e.g. ``{"id":``).

    For big elements whose unfinished tail holds more commas than the walk tries.
    """
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
        if balance == 0 and _blank_only(buf, j + 1, k):
            return j
        k = buf.rfind(sig, p + 1, j)
    return -1


def _skip_blank(buf: bytearray, p: int, n: int) -> int:
    while p < n and buf[p] in _WS_BYTES:
        p += 1
    return p


def _blank_only(buf: bytearray, a: int, b: int) -> bool:
    return all(c in _WS_BYTES for c in buf[a:b]) if b - a < 64 else False


def signature(buf: bytearray, q: int, j: int) -> bytes | None:
    """How an element starts: an object's bytes through its first ``:`` (None if not found)."""
    if q < j and buf[q] == _LBRACE:
        k = buf.find(b":", q, min(j, q + _SIG_MAX))
        if k > 0:
            return bytes(buf[q : k + 1])
    return None
