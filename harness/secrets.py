"""Secrets and the one set of masking rules: what is secret, and how it is hidden.

:class:`ApiKey` is a redacting type, so a key cannot leak through a repr, an f-string or a log
line; its value is reachable only through :meth:`ApiKey.reveal`, which the request builder calls
at the last moment. :func:`redact` masks known keys in free text (exception messages, log lines).

What is secret is decided by *name*, never by looks (:func:`is_secret_name`): the ``api_key``
query parameter, the ``x-api-key`` and ``Authorization`` headers, anything named like a key,
token, secret, password, signature, credential or cookie, and the credentials of a URL
(``user:password@``). Other values, such as ``env=Production``, are not secret and stay readable:

- :func:`request_secrets` lists a request's secret values (in every spelling a server may echo)
  and :func:`mask_echoes` hides them, and pieces of them, in a text the server sent back;
- :func:`redact_url` masks a URL's secret parameters and credentials;
- :func:`mask_key_text` masks ``api_key=...``, ``x-api-key: ...``, ``Authorization: ...`` and
  URL credentials in free text whose keys are not known (records read back into a report).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

from harness.errors import ConfigError

__all__ = [
    "MASK",
    "SECRET_NAME_WORDS",
    "ApiKey",
    "is_secret_name",
    "mask_echoes",
    "mask_key_text",
    "redact",
    "redact_url",
    "request_secrets",
]

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


# --- which values are secret: by name --------------------------------------------------------

# A header or query parameter whose name contains one of these (any case) carries a secret:
# api_key, x-api-key, access_token, client_secret, authorization, proxy-authorization, cookie...
SECRET_NAME_WORDS = (
    "key", "token", "secret", "password", "passwd", "signature", "auth", "credential", "cookie",
)  # fmt: skip
_WORDS = "|".join(SECRET_NAME_WORDS)
# A secret pair hidden inside another value (``?next=/x?api_key=...``).
_NESTED_SECRET_RE = re.compile(rf"((?:{_WORDS})[^&=#;]*=)[^&#;]*", re.IGNORECASE)
# Values this short are not masked in free text: masking "ab" everywhere would garble it.
_MIN_MASKED = 4
# A piece of a secret this long is masked too: an error may quote body bytes cut mid-key.
_MIN_PIECE = 8


def is_secret_name(name: str) -> bool:
    """True when a header or query parameter called ``name`` carries a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_NAME_WORDS)


# --- URLs ------------------------------------------------------------------------------------


def _mask_pairs(text: str) -> str:
    """A query (or fragment) string with secret values masked, including ones nested in values."""
    if "=" not in text:
        return text
    masked = []
    for name, value in parse_qsl(text, keep_blank_values=True):
        shown = MASK if is_secret_name(name) else _NESTED_SECRET_RE.sub(rf"\1{MASK}", value)
        masked.append(f"{quote(name, safe='?')}={quote(shown, safe='*?=')}")
    return "&".join(masked)


def redact_url(url: str) -> str:
    """``url`` with secret query values (api_key, *key*, *token*, *secret*) and credentials masked.

    ``env=Production`` and other parameters that are not secret are kept.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except (ValueError, TypeError):
        # Unparseable: keep only what cannot hold a secret (no query, fragment or userinfo).
        head = str(url).split("?", 1)[0].split("#", 1)[0]
        return re.sub(r"//[^/]*@", f"//{MASK}@", head)
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{host or ''}" + (f":{port}" if port is not None else "")
    query, fragment = _mask_pairs(parts.query), _mask_pairs(parts.fragment)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


# --- a request's secrets, and the echoes of them in a server's answer -----------------------


def _header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    values = []
    for name, value in headers:
        if is_secret_name(name):
            values.append(value)
            # "Bearer <token>", "Basic <base64>": a server may echo the credential alone.
            credential = value.partition(" ")[2].strip()
            if credential:
                values.append(credential)
    return values


def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return []
    values = [
        value
        for pairs in (parts.query, parts.fragment)
        for name, value in parse_qsl(pairs, keep_blank_values=True)
        if is_secret_name(name)
    ]
    # https://user:password@host: the password; https://token@host: the token.
    credential = password if password is not None else username
    return [*values, *([credential] if credential else [])]


def request_secrets(url: str, headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The secret values of a request, in every spelling a server may echo, longest first.

    Secret: the values of secret-named headers and query parameters (:func:`is_secret_name`;
    for ``Authorization: Bearer T`` also ``T`` alone) and a URL's credentials. Values shorter
    than 4 characters are left out (they are no keys, and masking them would garble text).
    """
    raw = [v for v in (*_header_secrets(headers), *_url_secrets(url)) if len(v) >= _MIN_MASKED]
    spellings = {
        form
        for value in raw
        for form in (value, quote(value, safe=""), quote(value), quote_plus(value))
    }
    return tuple(sorted(spellings, key=lambda s: (-len(s), s)))


def _longest_piece(text: str, start: int, secret: str) -> int:
    """The end of the longest ``text[start:end]`` that occurs in ``secret``.

    Being a substring is inherited by prefixes, so the end can be found by bisection.
    """
    low, high = start, min(len(text), start + len(secret))
    while low < high:
        middle = (low + high + 1) // 2
        if text[start:middle] in secret:
            low = middle
        else:
            high = middle - 1
    return low


def _mask_pieces(text: str, secret: str) -> str:
    """``text`` with every run of at least 8 characters that occurs in ``secret`` masked."""
    if len(secret) < _MIN_PIECE or len(text) < _MIN_PIECE:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        end = _longest_piece(text, i, secret)
        if end - i >= _MIN_PIECE:
            out.append(MASK)
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def mask_echoes(text: str, secrets: Sequence[str]) -> str:
    """``text`` (an error a server sent back) with ``secrets`` and pieces of them masked.

    ``secrets`` comes from :func:`request_secrets`. Every occurrence of a whole secret is masked
    first (longest first, so a key containing a shorter one goes whole), then every piece of at
    least 8 characters: a server may quote a few body bytes cut in the middle of a key.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for secret in secrets:
        text = _mask_pieces(text, secret)
    return text


# --- free text whose keys are not known --------------------------------------------------------

_KEY_IN_TEXT = re.compile(r"(?i)((?:x-)?api[_-]?key\s*[=:]\s*)[^\s&\"',;]+")
_AUTH_IN_TEXT = re.compile(
    r"(?i)((?:proxy-)?authorization\s*[=:]\s*(?:(?:bearer|basic|token|digest)\s+)?)[^\s&\"',;]+"
)
_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@\"']+@")


def mask_key_text(text: str) -> str:
    """``text`` with key values and URL credentials masked, every other value kept.

    Masked: ``api_key=...``, ``x-api-key: ...``, ``Authorization: [Bearer] ...`` and the
    ``user:password@`` of a URL; ``env=Production`` stays as it is.
    """
    text = _KEY_IN_TEXT.sub(rf"\g<1>{MASK}", text)
    text = _AUTH_IN_TEXT.sub(rf"\g<1>{MASK}", text)
    return _URL_CREDENTIALS.sub(rf"\g<1>{MASK}@", text)
