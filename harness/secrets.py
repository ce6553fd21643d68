"""API keys as a redacting type, so a key cannot leak through a repr, an f-string or a log line.

The key's value is reachable only through :meth:`ApiKey.reveal`, which the request builder calls
at the last moment. :func:`redact` is the last line of defence for free text (exception messages,
log lines) that might have picked a key up on the way.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

from harness.errors import ConfigError

__all__ = ["MASK", "ApiKey", "redact"]

MASK = "***"

# Keys travel in an HTTP header or a query string: visible ASCII only, so that neither
# header encoding nor URL quoting can change them, and no whitespace (a pasted key with a
# trailing newline is the usual mistake).
_FIRST_VISIBLE, _LAST_VISIBLE = 0x21, 0x7E
_MAX_LEN = 4096


def _problem(value: str) -> str | None:
    """Why ``value`` cannot be a key (never quoting it), or None when it is fine."""
    if not value:
        return "it is empty"
    if len(value) > _MAX_LEN:
        return f"it is longer than {_MAX_LEN} characters"
    if any(ch.isspace() for ch in value):
        return "it contains whitespace (a trailing newline or space copied with it?)"
    if any(not _FIRST_VISIBLE <= ord(ch) <= _LAST_VISIBLE for ch in value):
        return "it contains characters other than visible ASCII"
    return None


class ApiKey:
    """An API key that shows as ``ApiKey('***')`` everywhere except :meth:`reveal`.

    Immutable; equal and hashable by value (compared in constant time). Pickling is refused so
    a key cannot be shipped to a worker or a file by accident: pass the env var name instead.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise ConfigError(f"an API key must be a string, not {type(value).__name__}")
        problem = _problem(value)
        if problem is not None:
            raise ConfigError(
                f"the API key is not usable: {problem}; check the env var or file it came from"
            )
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The key itself: call only where it goes on the wire."""
        return self._value

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("ApiKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("ApiKey is immutable")

    def __repr__(self) -> str:
        return f"ApiKey('{MASK}')"

    def __str__(self) -> str:
        return self.__repr__()

    def __format__(self, format_spec: str) -> str:
        return format(self.__repr__(), format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApiKey):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((ApiKey, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("an ApiKey cannot be pickled; pass the name of its env var or file")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("an ApiKey cannot be pickled; pass the name of its env var or file")

    def __copy__(self) -> ApiKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ApiKey:
        return self


def redact(text: str, keys: Iterable[ApiKey]) -> str:
    """``text`` with every occurrence of each key (raw or URL-quoted) replaced by ``***``."""
    forms: set[str] = set()
    for key in keys:
        raw = key.reveal()
        forms.update((raw, quote(raw, safe=""), quote_plus(raw, safe="")))
    # Longest first, so a key that contains another key is masked whole.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
