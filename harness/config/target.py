"""Turn a URL (a base URL or a pasted full execution endpoint) into a target."""

from __future__ import annotations

from urllib.parse import urlsplit

from harness.config.model import TargetConfig
from harness.errors import ConfigError
from harness.flow_api import FlowTarget, parse_execution_endpoint

__all__ = ["is_endpoint", "target_from_url"]


def is_endpoint(url: str) -> bool:
    """True when ``url`` looks like a full execution endpoint rather than a base URL."""
    try:
        return "/api/v1/tenants/" in urlsplit(url.strip()).path
    except ValueError:
        return False


def target_from_url(url: str, tenant: str | None, workspace: str | None) -> TargetConfig:
    """A target from a base URL plus tenant/workspace, or from a pasted endpoint alone.

    Tenant/workspace given next to a pasted endpoint must agree with it.
    """
    if not is_endpoint(url):
        if tenant is None or workspace is None:
            raise ConfigError(
                "a base URL needs tenant and workspace in [target]; or paste the flow's full "
                "execution endpoint (.../api/v1/tenants/{t}/workspaces/{w}/flows/{f}/stream)"
            )
        return TargetConfig(FlowTarget(url, tenant, workspace))
    parsed = parse_execution_endpoint(url)
    if parsed.action != "stream":
        raise ConfigError(
            f"the endpoint is a /{parsed.action} endpoint; only /stream is measured, paste "
            "the flow's .../stream endpoint"
        )
    for what, given, found in (
        ("tenant", tenant, parsed.target.tenant),
        ("workspace", workspace, parsed.target.workspace),
    ):
        if given is not None and given != found:
            raise ConfigError(
                f"the endpoint's {what} differs from the configured {what}; keep only one"
            )
    return TargetConfig(parsed.target, parsed.flow_id, parsed.env)
