r"""Skim a long JSON container at C speed: the exact scanner's state, from whole-bytes operations.

The exact path follows an element with a depth counter that skips strings (``_exact``): inside
a string a ``\`` escapes the next byte and brackets do not count; outside, every ``[``/``{``
is +1 and every ``]``/``}`` is -1 (kinds are not matched) and the element ends where the depth
reaches 0. Regular expressions do that at ~60 MB/s. :func:`skim` gets the *same* state for a
region of bytes with ``bytes.translate``/``count``/``replace`` (~0.5-1 GB/s on small rows):

1. Escapes: ``\\`` pairs are dropped (a run of backslashes pairs from its start, inside a
   string as in the scanner; outside one they are plain bytes either way), then each ``\"``
   becomes a marker byte (an escaped quote, if it is inside a string).
2. ``translate`` keeps only quotes, brackets (``[``->``{``, ``]``->``}``) and markers; a region
   that starts inside a string gets a leading quote, and an odd last quote opens a string the
   region ends in (what follows it is string content).
3. Strings: when every quote pairs with the next one (``count('""')``), no string holds a
   bracket and quotes are just deleted; otherwise the bytes between paired quotes are dropped
   (``split``). A marker left outside a string means ``\"`` was outside one: the scanner
   reads that differently (a plain byte and a quote), so the region is refused.
4. Brackets: matched pairs are removed (``replace('{}', '')`` a few times) until only
   ``}`` * closes + ``{`` * opens is left: the element ends in the region iff closes >= depth.

When it does, halving the region finds a piece of at most ``PIECE`` bytes that holds the end,
and the scanner takes over there. A region never ends right after a backslash (the scanner
would resume inside an escape). Anything unusual (``\"`` outside a string, a stray marker
byte) is refused, never guessed: the scanner takes over where the skim stopped.
"""

from __future__ import annotations

from itertools import accumulate

PIECE = 512  # the scanner finds the end in a piece this small (the regex is cheaper there)
_PASSES = 16  # bracket-collapse passes (one per nesting level) before counting one by one
_MARK = b"\x01"  # an escaped quote (control bytes are not valid JSON text: refused if outside)
_BACKSLASH = 0x5C
_KEEP = bytes.maketrans(b"[]", b"{}")
_DROP = bytes(c for c in range(256) if c not in b'"{}[]\x01')
_STEP = {0x7B: 1, 0x7D: -1}


def skim(
    buf: bytearray, sp: int, n: int, depth: int, *, in_str: bool, first: int
) -> tuple[int, int, bool]:
    """Advance the exact scanner's state ``(sp, depth, in_str)`` towards ``n``.

    Returns the state at a position the element has certainly not ended before, at most
    :data:`PIECE` bytes before its end or ``n``, whichever comes first; or an earlier position
    (at worst ``sp``) where the bytes are refused or a run of backslashes is in the way. ``sp``
    must not be inside an escape. Regions start at ``first`` bytes and grow 4x while the
    element goes on, so an element that ends early costs a few times its length, not the
    buffer's.
    """
    hi = n  # once the end is known to be in [sp, hi), regions halve
    mid = min(n, sp + max(first, PIECE + 1))
    while hi - sp > PIECE:
        while mid > sp and buf[mid - 1] == _BACKSLASH:  # never stop inside an escape
            mid -= 1
        found = _region(buf, sp, mid, in_str=in_str) if mid > sp else None
        if found is None:
            break
        closes, opens, after = found
        if closes >= depth:
            hi = mid
            mid = (sp + hi) // 2
            continue
        size = 4 * (mid - sp)  # no end before mid
        sp, depth, in_str = mid, depth - closes + opens, after
        mid = min(hi, sp + size) if hi == n else (sp + hi) // 2
    return sp, depth, in_str


def _region(buf: bytearray, a: int, b: int, *, in_str: bool) -> tuple[int, int, bool] | None:
    """The closing brackets without an opener and the openers left open in ``buf[a:b]``.

    Strings excluded (``in_str``: the region starts inside one); also whether the region ends
    inside a string. None if refused.
    """
    raw = bytes(memoryview(buf)[a:b])  # one copy; the view is released at once
    if buf.find(b"\\", a, b) >= 0:
        raw = raw.replace(b"\\\\", b"")
        if raw.find(b'\\"') >= 0:
            raw = raw.replace(b'\\"', _MARK)
    kept = raw.translate(_KEEP, _DROP)
    if in_str:
        kept = b'"' + kept
    quotes = kept.count(b'"')
    after = bool(quotes & 1)
    if after:  # the last quote opens a string that runs past b: the rest is its content
        kept = kept[: kept.rfind(b'"')]
        quotes -= 1
    if kept.count(b'""') * 2 == quotes:
        brackets = kept.translate(None, b'"')  # no string holds a bracket or a marker
    else:
        brackets = b"".join(kept.replace(b'""', b"").split(b'"')[::2])
    if brackets.find(_MARK) >= 0:
        return None
    closes, opens = _unmatched(brackets)
    return closes, opens, after


def _unmatched(brackets: bytes) -> tuple[int, int]:
    """Closing brackets without an opener before them, and openers left open, in order."""
    for _ in range(_PASSES):
        shorter = brackets.replace(b"{}", b"")
        if len(shorter) == len(brackets):
            closes = len(brackets) - len(brackets.lstrip(b"}"))
            return closes, len(brackets) - closes
        brackets = shorter
    depths = list(accumulate(map(_STEP.__getitem__, brackets), initial=0))
    closes = -min(depths)
    return closes, depths[-1] + closes
