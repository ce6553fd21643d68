"""Forward proxies: which one a target goes through, and the CONNECT tunnel for https.

The usual environment variables, as curl and Python's requests read them: ``HTTPS_PROXY`` for
https targets, ``HTTP_PROXY`` for http ones (``ALL_PROXY`` for both), lowercase forms first, and
``NO_PROXY`` (comma-separated: ``*``, host names, domains, with or without a leading dot, which
match their subdomains too, IP addresses and CIDR blocks, each optionally ``:port``). An
explicit proxy (``--proxy``, ``[target] proxy``) wins over the environment for every target.

Only ``http://`` proxy URLs (the proxy itself spoken to in clear, port 80 when none is given, as
requests does; https targets go through a CONNECT tunnel, so the TLS is end to end).
Credentials in the URL (``http://user:pass@host:port``) become a Basic ``Proxy-Authorization``;
:class:`Proxy` never shows them, and :meth:`ProxySettings.secrets` lists them for masking.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import gevent.socket

from harness.errors import ConfigError
from harness.transport._errors import ConnectError

_MAX_CONNECT_REPLY = 64 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class Proxy:
    """One forward proxy: where it is, and its Basic credentials (never shown)."""

    host: str
    port: int
    authorization: str | None = None  # "Basic ...": the Proxy-Authorization value
    secrets: tuple[str, ...] = ()  # the user's password and the header value, for masking

    @property
    def label(self) -> str:
        """``proxy host:port``: how errors name it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"proxy {host}:{self.port}"

    def __repr__(self) -> str:
        auth = ", with credentials" if self.authorization else ""
        return f"Proxy({self.label}{auth})"


def parse_proxy(url: str, source: str) -> Proxy:
    """A :class:`Proxy` from ``http://[user:pass@]host[:port]`` (``source`` names the setting)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # curl and requests accept a bare host:port
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{source}: not a proxy URL; expected http://host:port") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ConfigError(
            f"{source}: only http:// proxy URLs are supported (https targets are tunnelled "
            "through them with CONNECT), e.g. http://proxy.example.com:3128"
        )
    auth: str | None = None
    secrets: tuple[str, ...] = ()
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        auth = f"Basic {token}"
        secrets = tuple(s for s in (password, token, parts.password or "") if s)
    return Proxy(parts.hostname, port if port is not None else 80, auth, secrets)


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """Which proxy each target goes through (None: direct)."""

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = field(default=())

    @classmethod
    def resolve(cls, env: Mapping[str, str], explicit: str | None = None) -> ProxySettings:
        """From an explicit proxy URL (for every target), else the environment variables."""
        no_proxy = _no_proxy(env)
        if explicit:
            proxy = parse_proxy(explicit, "--proxy")
            return cls(proxy, proxy, no_proxy)
        every = _env(env, "all_proxy")
        http = _env(env, "http_proxy") or every
        https = _env(env, "https_proxy") or every
        return cls(
            parse_proxy(http[1], http[0]) if http else None,
            parse_proxy(https[1], https[0]) if https else None,
            no_proxy,
        )

    def for_target(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for a target, unless NO_PROXY exempts it."""
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or _exempt(self.no_proxy, host, port):
            return None
        return proxy

    def secrets(self) -> tuple[str, ...]:
        """Every credential in these settings (to mask wherever text is shown)."""
        out: list[str] = []
        for proxy in (self.http, self.https):
            if proxy is not None:
                out.extend(proxy.secrets)
        return tuple(dict.fromkeys(out))


def _env(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    for key in (name, name.upper()):
        value = env.get(key, "").strip()
        if value:
            return key, value
    return None


def _no_proxy(env: Mapping[str, str]) -> tuple[str, ...]:
    found = _env(env, "no_proxy")
    if found is None:
        return ()
    return tuple(e.strip().lower() for e in found[1].split(",") if e.strip())


def _exempt(entries: tuple[str, ...], host: str, port: int) -> bool:
    host = host.lower().rstrip(".")
    for entry in entries:
        if entry == "*":
            return True
        name, want_port = _split_port(entry)
        if want_port is not None and want_port != port:
            continue
        if _matches(name, host):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:8080
        name, _, rest = entry[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


def _matches(name: str, host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and ("/" in name or _is_ip(name)):
        try:
            return address in ipaddress.ip_network(name, strict=False)
        except ValueError:
            return False
    domain = name.lstrip(".").rstrip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def open_tunnel(sock: socket.socket, proxy: Proxy, host_port: str) -> None:
    """Ask ``proxy`` (connected on ``sock``) for a CONNECT tunnel to ``host_port``.

    Raises ConnectError (``proxy_auth`` for 407, ``proxy`` otherwise) naming the proxy, never
    its credentials. ``sock`` is non-blocking; waits are cooperative.
    """
    lines = [f"CONNECT {host_port} HTTP/1.1", f"Host: {host_port}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    _send_all(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    reply = _read_reply(sock, proxy)
    status_line = reply.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if 200 <= status < 300:
        return
    if status == 407:
        raise ConnectError(
            f"{proxy.label} wants credentials (407 Proxy Authentication Required): put them in "
            "the proxy URL, http://user:password@host:port",
            "proxy_auth",
        )
    raise ConnectError(
        f"{proxy.label} refused the tunnel to {host_port}: {status_line[:120] or 'no reply'}",
        "proxy",
    )


def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            gevent.socket.wait_write(sock.fileno())


def _read_reply(sock: socket.socket, proxy: Proxy) -> bytes:
    """The proxy's reply head, through the blank line (bytes after it belong to the tunnel)."""
    reply = bytearray()
    while b"\r\n\r\n" not in reply:
        try:
            # Peek, then take only the head: what follows it is the tunnel's, not ours.
            chunk = sock.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            gevent.socket.wait_read(sock.fileno())
            continue
        if not chunk:
            raise ConnectError(f"{proxy.label} closed the connection instead of a tunnel", "proxy")
        end = (bytes(reply) + chunk).find(b"\r\n\r\n")
        take = len(chunk) if end < 0 else end + 4 - len(reply)
        reply += sock.recv(take)
        if len(reply) > _MAX_CONNECT_REPLY:
            raise ConnectError(f"{proxy.label} sent an oversized CONNECT reply", "proxy")
    return bytes(reply)
