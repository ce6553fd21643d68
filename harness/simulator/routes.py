"""Request validation for the simulated endpoint, in the order the real service applies it.

Pure functions of (method, target, headers, profile): easy to test and cheap to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from harness.errors import ConfigError
from harness.simulator.faults import Fault, parse_fault
from harness.simulator.profiles import ENV_NAMES, FlowProfile, Profile, parse_env
from harness.simulator.send_plan import Overrides

FAULT_HEADER = "x-flowload-fault"
FAULT_QUERY = "flowload_fault"
_OVERRIDES = ("items", "gap_ms", "ttfi_ms", "item_bytes")
STATS_PATH = "/_flowload/stats"


@dataclass(frozen=True, slots=True)
class Reject:
    """A response that ends the request before any streaming."""

    status: int
    title: str
    detail: str
    outcome: str
    headers: tuple[tuple[str, str], ...] = ()
    env: str | None = None
    flow: str | None = None


@dataclass(frozen=True, slots=True)
class Admit:
    """A valid stream request."""

    env: str
    flow: FlowProfile
    tenant: str
    workspace: str
    overrides: Overrides = field(default_factory=Overrides)
    fault: Fault | None = None


def _split_path(path: str) -> tuple[str, str, str] | None:
    parts = path.split("/")
    # Segments: "", api, v1, tenants, {t}, workspaces, {w}, flows, {flowId}, stream.
    if len(parts) != 10 or parts[0] or not all(parts[i] for i in (4, 6, 8)):
        return None
    literals = [p.lower() for p in (parts[1], parts[2], parts[3], parts[5], parts[7], parts[9])]
    if literals != ["api", "v1", "tenants", "workspaces", "flows", "stream"]:
        return None
    return unquote(parts[4]), unquote(parts[6]), unquote(parts[8])


def _pick(headers: Mapping[str, str], query: Mapping[str, list[str]], name: str) -> str | None:
    value = headers.get(f"x-flowload-{name.replace('_', '-')}")
    if value is None and f"flowload_{name}" in query:
        value = query[f"flowload_{name}"][-1]
    return value


def _overrides(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Overrides:
    values: dict[str, float] = {}
    for name in _OVERRIDES:
        text = _pick(headers, query, name)
        if text is None:
            continue
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"x-flowload-{name} must be a number, got {text!r}") from None
        if not number >= 0:
            raise ConfigError(f"x-flowload-{name} must be >= 0, got {text!r}")
        values[name] = number
    items, size = values.get("items"), values.get("item_bytes")
    shape = (_pick(headers, query, "item_shape") or "padded").strip().lower()
    if shape not in {"padded", "dense"}:
        raise ConfigError(f"x-flowload-item-shape must be padded or dense, got {shape!r}")
    return Overrides(
        items=None if items is None else int(items),
        gap_ms=values.get("gap_ms"),
        ttfi_ms=values.get("ttfi_ms"),
        item_bytes=None if size is None else int(size),
        dense=shape == "dense",
    )


def _auth(
    headers: Mapping[str, str], query: Mapping[str, list[str]], env: str, profile: Profile
) -> Reject | None:
    in_header = "x-api-key" in headers
    key = headers["x-api-key"] if in_header else (query.get("api_key") or [""])[-1]
    if not key:
        detail = "missing API key: send it in the x-api-key header or the api_key query"
        return Reject(401, "Unauthorized", detail, "unauthorized", env=env)
    if profile.open_auth:
        return None
    if key not in profile.envs[env].api_keys:
        # Never echo the key: it is a secret even when wrong.
        detail = f"the API key is not valid for env {env} (keys differ per env)"
        return Reject(401, "Unauthorized", detail, "unauthorized", env=env)
    return None


def _env_and_auth(
    headers: Mapping[str, str], query: Mapping[str, list[str]], profile: Profile
) -> str | Reject:
    """The env name, or the 400/401 the real service gives (key XOR rule first)."""
    if "x-api-key" in headers and "api_key" in query:
        detail = "API key given in both the x-api-key header and the api_key query; use one"
        return Reject(400, "Bad Request", detail, "bad_request")
    env_text = (query.get("env") or [""])[-1]
    env = parse_env(env_text)
    if env is None:
        names = ", ".join(ENV_NAMES)
        detail = f"env must be one of {names} or 0, 1, 2; got {env_text!r}"
        return Reject(400, "Bad Request", detail, "bad_request")
    denied = _auth(headers, query, env, profile)
    return env if denied is None else denied


def _find_flow(profile: Profile, tenant: str, workspace: str, flow_id: str) -> FlowProfile | str:
    """The flow, or why it is not found (unknown id, or tenant/workspace outside the lists)."""
    flow = profile.flows.get(flow_id) or profile.flows.get(flow_id.lower())
    if flow is None:
        return f"flow {flow_id!r} not found"
    if profile.tenants is not None and tenant not in profile.tenants:
        return f"tenant {tenant!r} not found"
    if profile.workspaces is not None and workspace not in profile.workspaces:
        return f"workspace {workspace!r} not found"
    return flow


def route(method: str, target: str, headers: Mapping[str, str], profile: Profile) -> Admit | Reject:
    """Validate one request like the real service.

    In order: 404 unknown path, 405 method, 400 key in both places, 400 env, 401 key missing or
    unknown for the env, 404 flow/tenant/workspace, 400 bad ``x-flowload-*`` flags.
    """
    path, _, query_text = target.partition("?")
    parts = _split_path(path)
    if parts is None:
        detail = "no such endpoint; use /api/v1/tenants/{t}/workspaces/{w}/flows/{flowId}/stream"
        return Reject(404, "Not Found", detail, "not_found")
    if method not in ("GET", "POST"):
        detail = f"{method} is not allowed; use POST or GET"
        allow = (("Allow", "GET, POST"),)
        return Reject(405, "Method Not Allowed", detail, "method_not_allowed", headers=allow)
    query = parse_qs(query_text, keep_blank_values=True)
    env = _env_and_auth(headers, query, profile)
    if isinstance(env, Reject):
        return env
    flow = _find_flow(profile, *parts)
    if isinstance(flow, str):
        return Reject(404, "Not Found", flow, "not_found", env=env)
    try:
        spec = _pick(headers, query, "fault")
        fault = parse_fault(spec) if spec else None
        overrides = _overrides(headers, query)
    except ConfigError as exc:
        return Reject(400, "Bad Request", str(exc), "bad_request", env=env, flow=flow.name)
    return Admit(env, flow, parts[0], parts[1], overrides, fault)
