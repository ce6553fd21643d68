"""Following redirects the way a load test should: few hops, never https→http, key kept in.

301/302/303/307/308 with a ``Location`` are followed. 307/308 keep the method and body; 303
(and 301/302 after a POST, as browsers and requests do) turn into a GET without a body. The API
key header (and ``Authorization``) travels only to the same host (an http→https upgrade of the
same host included): a key is never handed to another host because a response said so. A
redirect from https to http is refused, and more than :data:`MAX_REDIRECTS` hops is a loop.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urljoin, urlsplit

from harness.errors import FlowloadError
from harness.secrets import redact_url
from harness.transport import HttpRequest, RequestError

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_KEY_HEADERS = frozenset({"x-api-key", "authorization", "cookie"})
_BODY_HEADERS = frozenset({"content-type", "content-encoding"})


class RedirectError(FlowloadError):
    """A redirect that must not be followed; ``cause`` names the kind (for fail-fast)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def next_request(request: HttpRequest, status: int, location: str, hops: int) -> HttpRequest:
    """The request a redirect asks for (raises RedirectError when it must not be followed)."""
    if hops >= MAX_REDIRECTS:
        raise RedirectError(
            f"redirect loop: more than {MAX_REDIRECTS} redirects, the last to "
            f"{_where(request.url, location)}; point the test at the final URL",
            "redirect_loop",
        )
    url = urljoin(request.url, location.strip())
    old, new = urlsplit(request.url), urlsplit(url)
    if old.scheme == "https" and new.scheme == "http":
        raise RedirectError(
            f"HTTP {status} redirects from https to http ({redact_url(url)}); flowload never "
            "downgrades: point the test at the https URL",
            "redirect_downgrade",
        )
    method, body = request.method, request.body
    if status == 303 or (status in (301, 302) and method.upper() == "POST"):
        method, body = "GET", None
    headers = tuple(
        (name, value)
        for name, value in request.headers
        if (_same_host(old, new) or name.lower() not in _KEY_HEADERS)
        and (body is not None or name.lower() not in _BODY_HEADERS)
    )
    try:
        return HttpRequest(method, url, headers, body)
    except RequestError as exc:
        message = f"HTTP {status} redirects to an unusable URL: {exc}"
        raise RedirectError(message, "redirect") from None


def _same_host(o: SplitResult, n: SplitResult) -> bool:
    """Same host and port, or the same host upgraded from http to https."""
    if (o.hostname or "").lower() != (n.hostname or "").lower():
        return False
    if o.scheme == n.scheme:
        return _port(o.scheme, o.port) == _port(n.scheme, n.port)
    return o.scheme == "http" and n.scheme == "https"


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def _where(base: str, location: str) -> str:
    return redact_url(urljoin(base, location.strip()))
