"""The Flow "Run streaming" API as data: environments, auth modes, bodies, URLs and requests.

Pure functions, no I/O. Everything that reaches the wire is built by :func:`build_stream_request`,
which is the only place an API key is revealed (into exactly one of the header or the query).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import orjson

from harness.errors import ConfigError
from harness.secrets import ApiKey, redact_url
from harness.transport import HttpRequest

__all__ = [
    "ACTIONS",
    "AuthMode",
    "BinaryBody",
    "Body",
    "Env",
    "FlowTarget",
    "JsonBody",
    "NoBody",
    "ParsedEndpoint",
    "build_stream_request",
    "check_extra_headers",
    "check_path_segment",
    "parse_auth_mode",
    "parse_env",
    "parse_execution_endpoint",
]

KEY_HEADER = "x-api-key"
KEY_PARAM = "api_key"
ACTIONS: tuple[str, ...] = ("stream", "run", "submit")
_API_ROOT = "/api/v1/tenants/"
_ENDPOINT_RE = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*?)/api/v1/tenants/(?P<tenant>[^/]+)/workspaces/(?P<workspace>[^/]+)"
    r"/flows/(?P<flow>[^/]+)(?:/(?P<action>[^/]+))?/?$"
)
_ENDPOINT_SHAPE = "scheme://host[:port][/prefix]/api/v1/tenants/{t}/workspaces/{w}/flows/{f}/stream"
# RFC 9110 token: what a header name may be made of.
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# The transport owns message framing; a user header must not contradict it.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class Env(enum.StrEnum):
    """A Flow environment; the value is the canonical name the API takes as ``env=``."""

    DEVELOPMENT = "Development"
    TEST = "Test"
    PRODUCTION = "Production"

    # Shadows str.index on purpose: the agreed API names the 0/1/2 alias ``Env.X.index``.
    @property
    def index(self) -> int:  # type: ignore[override]
        """The numeric alias the API also accepts (0, 1, 2)."""
        return _ENVS.index(self)


_ENVS: tuple[Env, ...] = tuple(Env)
_ENV_CHOICES = "Development, Test, Production (or 0, 1, 2)"


def parse_env(value: str | int) -> Env:
    """An :class:`Env` from a name (any case) or its index (0/1/2, as int or digit string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(_ENVS):
            return _ENVS[value]
    elif isinstance(value, str):
        text = value.strip()
        if text.isdecimal() and len(text) == 1 and int(text) < len(_ENVS):
            return _ENVS[int(text)]
        for env in _ENVS:
            if env.value.lower() == text.lower():
                return env
    shown = repr(value) if isinstance(value, str | int) else type(value).__name__
    raise ConfigError(f"unknown env {shown[:40]}; valid values: {_ENV_CHOICES}")


class AuthMode(enum.StrEnum):
    """Where the API key goes: exactly one of these, never both."""

    HEADER = "header"  # x-api-key: <key>
    QUERY = "query"  # ?api_key=<key>


def parse_auth_mode(value: str) -> AuthMode:
    """An :class:`AuthMode` from ``"header"`` or ``"query"`` (any case)."""
    if isinstance(value, str):
        for mode in AuthMode:
            if mode.value == value.strip().lower():
                return mode
    shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
    raise ConfigError(f"unknown auth mode {shown}; valid values: header, query")


@dataclass(frozen=True, slots=True)
class JsonBody:
    """A JSON request body; ``value`` is encoded once, with orjson, when the body is made."""

    value: Any
    encoded: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            encoded = orjson.dumps(self.value)
        except TypeError as exc:
            raise ConfigError(f"the JSON body cannot be encoded: {exc}") from None
        object.__setattr__(self, "encoded", encoded)

    @property
    def content_type(self) -> str:
        """The Content-Type header value this body is sent with."""
        return "application/json"

    @property
    def payload(self) -> bytes:
        """The bytes on the wire."""
        return self.encoded


@dataclass(frozen=True, slots=True)
class BinaryBody:
    """A binary request body (e.g. read from a file) with its content type."""

    data: bytes = field(repr=False)
    content_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise ConfigError(f"a binary body must be bytes, not {type(self.data).__name__}")
        if not _is_header_value(self.content_type) or not self.content_type.strip():
            raise ConfigError(
                "content_type must be a non-empty header value without line breaks, "
                "e.g. 'application/octet-stream'"
            )

    def __repr__(self) -> str:
        return f"BinaryBody(<{len(self.data)} bytes>, content_type={self.content_type!r})"

    @property
    def payload(self) -> bytes:
        """The bytes on the wire."""
        return self.data


@dataclass(frozen=True, slots=True)
class NoBody:
    """No request body (and no Content-Type)."""

    @property
    def content_type(self) -> None:
        """No body, no Content-Type."""
        return None

    @property
    def payload(self) -> None:
        """No bytes on the wire."""
        return None


Body = JsonBody | BinaryBody | NoBody


def check_path_segment(what: str, value: str) -> None:
    """Refuse a tenant, workspace or flow id that cannot be one URL path segment."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string")
    if value in {".", ".."} or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ConfigError(f"{what} must not be '.' or '..' nor contain control characters")


def _check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash, or ConfigError saying what was expected."""
    expected = "expected scheme://host[:port][/prefix], e.g. https://flow.example.com"
    if not isinstance(base_url, str):
        raise ConfigError(f"the base URL must be a string; {expected}")
    try:
        parts = urlsplit(base_url.strip())
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigError(
            f"the base URL {redact_url(base_url)!r} is malformed; {expected}"
        ) from None
    _query_env(parts.query)  # refuses an api_key before any message could echo the URL
    if parts.scheme not in {"http", "https"}:
        raise ConfigError(f"the base URL must start with http:// or https://; {expected}")
    if not parts.hostname:
        raise ConfigError(f"the base URL has no host; {expected}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "the base URL must not contain user:password@; pass the API key by env var"
        )
    if parts.query or parts.fragment or base_url.strip().endswith(("?", "#")):
        raise ConfigError(f"the base URL must not have a query or fragment; {expected}")
    if any(ch.isspace() for ch in parts.path):
        raise ConfigError(f"the base URL path must not contain whitespace; {expected}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, slots=True)
class FlowTarget:
    """Where flows live: a base URL (optionally with a path prefix), a tenant and a workspace."""

    base_url: str
    tenant: str
    workspace: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", _check_base_url(self.base_url))
        check_path_segment("tenant", self.tenant)
        check_path_segment("workspace", self.workspace)

    def flow_path(self, flow_id: str, action: str = "stream") -> str:
        """``/api/v1/tenants/{t}/workspaces/{w}/flows/{f}/{action}``, segments percent-encoded.

        The path prefix of ``base_url`` is not included; see :meth:`flow_url`.
        """
        check_path_segment("flow id", flow_id)
        if action not in ACTIONS:
            raise ConfigError(f"unknown flow action {action!r}; valid: {', '.join(ACTIONS)}")
        t, w, f = (quote(s, safe="") for s in (self.tenant, self.workspace, flow_id))
        return f"{_API_ROOT}{t}/workspaces/{w}/flows/{f}/{action}"

    def stream_path(self, flow_id: str) -> str:
        """The path of the flow's "Run streaming" endpoint."""
        return self.flow_path(flow_id, "stream")

    def flow_url(self, flow_id: str, action: str = "stream") -> str:
        """The absolute URL of a flow endpoint, without query."""
        return self.base_url + self.flow_path(flow_id, action)


@dataclass(frozen=True, slots=True)
class ParsedEndpoint:
    """The parts of a pasted execution endpoint."""

    target: FlowTarget
    flow_id: str
    env: Env | None
    action: str


def _is_placeholder(value: str) -> bool:
    """True for a template such as ``{apikey}`` left in a URL copied from the docs."""
    return value.startswith("{") and value.endswith("}")


def _query_env(query: str) -> Env | None:
    env: Env | None = None
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if lowered in {KEY_PARAM, "apikey", "api-key", KEY_HEADER} and not _is_placeholder(value):
            raise ConfigError(
                "the URL contains an API key (api_key=...); remove it from the URL "
                "and pass the key by env var (api_key_env, default FLOW_API_KEY) or api_key_file"
            )
        if lowered == "env" and value and not _is_placeholder(value):
            env = parse_env(value)
    return env


def parse_execution_endpoint(url: str) -> ParsedEndpoint:
    """Split an endpoint pasted from the Flow designer into target, flow id, env and action.

    A missing action means ``stream``. Template placeholders such as ``env={env}`` are ignored.
    """
    if not isinstance(url, str):
        raise ConfigError(f"the endpoint must be a string; expected {_ENDPOINT_SHAPE}")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ConfigError(f"the endpoint is not a URL; expected {_ENDPOINT_SHAPE}") from None
    env = _query_env(parts.query)  # first: refuse a key before echoing anything
    match = _ENDPOINT_RE.match(parts.path)
    if match is None:
        raise ConfigError(
            f"the endpoint {redact_url(url)[:200]!r} does not have the expected shape "
            f"{_ENDPOINT_SHAPE}"
        )
    segments = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
    for name in ("tenant", "workspace", "flow"):
        if _is_placeholder(segments[name]):
            raise ConfigError(f"the endpoint still has a placeholder for the {name}; fill it in")
    action = segments.get("action", "stream")
    if action not in ACTIONS:
        raise ConfigError(f"unknown flow action {action[:40]!r}; valid: {', '.join(ACTIONS)}")
    base = urlunsplit((parts.scheme, parts.netloc, match["prefix"], "", ""))
    target = FlowTarget(base, segments["tenant"], segments["workspace"])
    check_path_segment("flow id", segments["flow"])
    return ParsedEndpoint(target=target, flow_id=segments["flow"], env=env, action=action)


def _is_header_value(value: str) -> bool:
    """Text that can go in a header as is: latin-1, no CR/LF/NUL."""
    if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def check_extra_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Validated user headers; refuses the key header and headers the transport owns."""
    checked: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise ConfigError(f"header name {str(name)[:40]!r} is not a valid HTTP token")
        lowered = name.lower()
        if lowered == KEY_HEADER:
            raise ConfigError(
                f"do not put {name} in extra headers: the API key comes from api_key_env or "
                "api_key_file, and auth = 'header' or 'query' says where it goes"
            )
        if lowered in _FRAMING_HEADERS:
            raise ConfigError(f"header {name} is set by the transport; remove it")
        if not _is_header_value(value):
            raise ConfigError(
                f"the value of header {name} must be latin-1 text without line breaks"
            )
        checked.append((name, value))
    return tuple(checked)


def build_stream_request(  # noqa: PLR0917 (the agreed signature)
    target: FlowTarget,
    flow_id: str,
    env: Env,
    key: ApiKey | None,
    auth: AuthMode,
    body: Body,
    method: str = "POST",
    extra_headers: Mapping[str, str] | None = None,
) -> HttpRequest:
    """The request for one "Run streaming" call: key in the header XOR the query, ``env=``."""
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in {"POST", "GET"}:
        raise ConfigError(f"method must be POST or GET, not {str(method)[:20]!r}")
    if verb == "GET" and not isinstance(body, NoBody):
        raise ConfigError("a GET request cannot carry a body; use POST or remove the body")
    if not isinstance(env, Env) or not isinstance(auth, AuthMode):
        raise ConfigError("env must be an Env and auth an AuthMode; use parse_env/parse_auth_mode")
    extras = check_extra_headers(extra_headers or {})
    headers: list[tuple[str, str]] = []
    if body.content_type is not None:
        if any(name.lower() == "content-type" for name, _ in extras):
            raise ConfigError("Content-Type is set by the body; set content_type on the body")
        headers.append(("Content-Type", body.content_type))
    query = [("env", env.value)]
    if key is not None:
        if auth is AuthMode.HEADER:
            headers.append((KEY_HEADER, key.reveal()))
        else:
            query.append((KEY_PARAM, key.reveal()))
    headers.extend(extras)
    url = f"{target.flow_url(flow_id, 'stream')}?{urlencode(query)}"
    return HttpRequest(method=verb, url=url, headers=tuple(headers), body=body.payload)
