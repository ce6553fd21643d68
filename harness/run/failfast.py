"""Stop a run that cannot succeed: its first streams all failed the same unfixable way.

A wrong key, an unknown flow, a closed port, a certificate the harness does not trust: every
stream will fail, and a load test that goes on only hammers the target. When the first
:data:`FIRST_STREAMS` streams of an env, or of one env's flow, all fail with the same
*configuration-class* cause (a :attr:`StreamResult.cause`), the run should stop with exit 3 and
one message that names the cause and the fix. Errors a retry can fix (5xx, 429, timeouts, resets)
never count: those are what a load test is there to measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_STREAMS = 3

_FIXES: dict[str, str] = {
    "http_401": "the API key was refused: check the key variable of this env (api_key_env)",
    "http_403": "the API key may not run this: check the key and the tenant/workspace rights",
    "http_404": "check the tenant, the workspace and the flow's id (flows must exist in the env)",
    "dns": "the host name does not resolve: check the URL (or the proxy settings)",
    "refused": "nothing listens there: check the URL's host and port, and that the server is up",
    "unreachable": "no route to the host: check the URL and the network",
    "tls": "TLS failed: check the URL, or give the server's CA with --ca-bundle",
    "client_cert": "give (the right) --client-cert and --client-key",
    "proxy": "the proxy is unreachable or refused the tunnel: check HTTPS_PROXY/--proxy",
    "proxy_auth": "the proxy wants credentials: http://user:password@host:port",
    "http2": "the server speaks only HTTP/2: point flowload at an HTTP/1.1 endpoint",
    "redirect_loop": "the target redirects in a loop: point the test at the final URL",
    "redirect_downgrade": "the target redirects https to http: use the https URL",
}
CONFIG_CAUSES = frozenset(_FIXES)


@dataclass
class FailFast:
    """Watches the first streams of each env and each env/flow; says when to stop."""

    first: int = FIRST_STREAMS
    _seen: dict[tuple[str, ...], list[str | None]] = field(default_factory=dict)
    tripped: str | None = None  # the stop message, once it tripped

    def observe(self, env: str, flow: str, cause: str | None, error: str | None) -> str | None:
        """Count one finished stream; return the stop message the first time it trips."""
        if self.tripped is not None:
            return None
        for key in ((env,), (env, flow)):
            seen = self._seen.setdefault(key, [])
            if len(seen) >= self.first:
                continue
            seen.append(cause if cause in CONFIG_CAUSES else None)
            if len(seen) == self.first and seen[0] is not None and seen.count(seen[0]) == len(seen):
                self.tripped = _message("/".join(key), seen[0], error)
                return self.tripped
        return None


def _message(where: str, cause: str, error: str | None) -> str:
    detail = f" ({error})" if error else ""
    return (
        f"the first {FIRST_STREAMS} streams of {where} all failed the same way{detail}: "
        f"{_FIXES[cause]}. Stopping the run (exit 3); --no-fail-fast keeps it going"
    )
