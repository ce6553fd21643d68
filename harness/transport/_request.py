"""Requests and client options: validation, URL targets and redaction of secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from harness.errors import ConfigError
from harness.transport._clock import TIMESTAMP_MODES
from harness.transport._errors import RequestError
from harness.transport._proxy import ProxySettings

DEFAULT_PORTS = {"http": 80, "https": 443}
BAD_HEADER_CHARS = ("\r", "\n", "\0")
_FORBIDDEN_HEADERS = frozenset({"content-length", "transfer-encoding"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: a valid header name


@dataclass(frozen=True, slots=True, repr=False)
class HttpRequest:
    """One request. ``repr`` and :meth:`redacted_url` never show query or header values."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def __post_init__(self) -> None:
        if not (self.method.isascii() and self.method.isalpha()):
            raise RequestError("HTTP method must be letters only, e.g. 'POST' or 'GET'")
        parse_target(self.url)  # validates scheme and host
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name):
                raise RequestError(f"invalid header name {name!r}: use a plain token")
            if name.lower() in _FORBIDDEN_HEADERS:
                raise RequestError(f"header {name!r} is set by the transport; remove it")
            if any(c in value for c in BAD_HEADER_CHARS):
                raise RequestError(f"value of header {name!r} contains CR, LF or NUL; remove them")
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise RequestError(f"value of header {name!r} is not latin-1 text") from None

    def redacted_url(self) -> str:
        """``scheme://host:port/path?name=***&...``: the URL with every query value hidden."""
        parts = urlsplit(self.url)
        target = parse_target(self.url)
        query = "&".join(f"{p.split('=', 1)[0]}=***" for p in parts.query.split("&") if p)
        return f"{target.scheme}://{target.label}{parts.path or '/'}" + (
            f"?{query}" if query else ""
        )

    def __repr__(self) -> str:
        headers = tuple((name, "***") for name, _ in self.headers)
        body = "None" if self.body is None else f"<{len(self.body)} bytes>"
        return (
            f"HttpRequest(method={self.method!r}, url={self.redacted_url()!r}, "
            f"headers={headers!r}, body={body})"
        )


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """Client settings. There is no per-read timeout here: callers pass one to each read."""

    connect_timeout_s: float = 10.0
    response_timeout_s: float = 310.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    accept_encoding: str = "identity"
    recv_bytes: int = 65536
    # Item times: "kernel" receive stamps, "user" receipt times, or "auto" (kernel where the
    # platform grants stamps). With "user", stamps are still taken where granted
    # (``stamp_lags``) to measure how late the harness saw bytes.
    timestamps: str = "auto"
    stamp_lags: bool = True
    proxies: ProxySettings = field(default_factory=ProxySettings)
    client_cert: str | None = None  # PEM certificate (chain) for servers that want mTLS
    client_key: str | None = None  # its PEM private key (None: in the certificate file)

    def __post_init__(self) -> None:
        if not (self.connect_timeout_s > 0 and self.response_timeout_s > 0):
            raise ConfigError("connect_timeout_s and response_timeout_s must be > 0 seconds")
        if self.timestamps not in TIMESTAMP_MODES:
            raise ConfigError(
                f"timestamps must be one of {', '.join(TIMESTAMP_MODES)}, got {self.timestamps!r}"
            )
        if self.recv_bytes < 1:
            raise ConfigError(f"recv_bytes must be >= 1, got {self.recv_bytes}")
        if any(c in self.accept_encoding for c in BAD_HEADER_CHARS):
            raise ConfigError("accept_encoding must not contain CR, LF or NUL")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: scheme, host, port and the origin-form target (path?query)."""

    scheme: str
    host: str
    port: int
    path: str  # origin-form request target: path plus query

    @property
    def label(self) -> str:
        """``host:port`` (IPv6 in brackets): the only thing errors may name."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def host_header(self) -> str:
        """The Host header value: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """Parse and check an absolute http(s) URL; errors never repeat the URL (it may hold keys)."""
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RequestError("URL is not valid: check the host and port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RequestError("URL must be absolute http:// or https:// with a host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c in path for c in (*BAD_HEADER_CHARS, " ")):
        raise RequestError("URL path or query contains spaces or control characters: encode them")
    host = parts.hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise RequestError("URL host is not a valid international domain name") from None
    return Target(scheme, host, port or DEFAULT_PORTS[scheme], path)
