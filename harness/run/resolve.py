"""From a scenario and a host to a resolved run: target, request mix, limits, transport, keys.

Whether a loopback host is a flowload simulator is asked over the wire (its own stats path);
the simulator package is imported only for its default flows, never on the measuring path.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from harness.config import FlowConfig, Scenario, apply_overrides, resolve_key
from harness.config.target import is_endpoint
from harness.errors import ConfigError
from harness.flow_api import Env, FlowTarget
from harness.run.measure import StreamLimits
from harness.run.request_mix import (
    SIMULATOR_TENANT,
    SIMULATOR_WORKSPACE,
    StreamPlan,
    build_plan,
    simulator_flows,
)
from harness.secrets import ApiKey, redact_url
from harness.transport import ProxySettings, TransportOptions, tls_context

# The embedded simulator accepts any non-empty key; this one is sent when the user set none.
SIMULATOR_DEMO_KEY = "flowload-simulator-demo-key"
SIMULATOR_PROBE_TIMEOUT_S = 2.0
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True, slots=True)
class ResolvedRun:
    """Everything needed to send streams: the plan, limits and transport options."""

    scenario: Scenario
    plan: StreamPlan
    limits: StreamLimits
    transport: TransportOptions
    host: str  # for display: no secrets
    simulator_like: bool


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needs_embedded_simulator(scenario: Scenario, host: str | None) -> bool:
    """True when neither ``--host`` nor the scenario names a server."""
    return not host and scenario.target is None


def is_flowload_simulator(url: str, timeout_s: float = SIMULATOR_PROBE_TIMEOUT_S) -> bool:
    """True when a flowload simulator answers at ``url`` (plain HTTP on loopback only).

    Asks ``GET /_flowload/stats``, which only the simulator serves; anything else (refused,
    another status, another body) is not a simulator.
    """
    from harness.simulator.routes import STATS_PATH  # noqa: PLC0415 - the simulator is apart

    parts = urlsplit(url)
    if parts.scheme != "http" or not _is_loopback(url) or parts.hostname is None:
        return False
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
    try:
        connection.request("GET", STATS_PATH)
        response = connection.getresponse()
        body = response.read(1 << 16)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    try:
        stats = orjson.loads(body) if response.status == 200 else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(stats, dict) and "capacity" in stats


def _check_scheme(host: str) -> None:
    if not _SCHEME.match(host):
        shown = redact_url(f"http://{host}")
        raise ConfigError(
            f"--host {shown.removeprefix('http://')!r} has no scheme: add http:// or https:// "
            f"(for example --host {shown})"
        )


def _not_a_simulator(host: str) -> ConfigError:
    return ConfigError(
        f"--host {redact_url(host)}: no [target] tenant and workspace, and no flowload simulator "
        "answers there; for a Flow server give --flow-config with [target] tenant, workspace and "
        "[[flows]] (or paste a flow's full endpoint as --host); for a simulator, start "
        "'flowload simulate' first, or leave out --host to run the bundled one"
    )


def _simulator_flows(scenario: Scenario) -> tuple[FlowConfig, ...]:
    # Imported here: the simulator is apart from the measuring path, needed only for its flows.
    from harness.simulator import default_profile, load_profile  # noqa: PLC0415

    profile_path = scenario.simulator.profile
    profile = load_profile(profile_path) if profile_path else default_profile()
    return simulator_flows(profile.flows)


def _simulator_host(scenario: Scenario, host: str | None, *, simulator: bool | None) -> bool:
    """Whether ``host`` is run as a flowload simulator (its tenant, workspace and flows)."""
    if not host or simulator is False:
        return False
    if scenario.tenant is not None or scenario.target is not None or is_endpoint(host):
        return False
    if simulator is None and _is_loopback(host):
        if not is_flowload_simulator(host):
            raise _not_a_simulator(host)
        return True
    return bool(simulator)


def resolve_run(
    scenario: Scenario, host: str | None, *, simulator: bool | None = None
) -> ResolvedRun:
    """Turn a scenario and the run's host into a plan (raises ConfigError with the fix).

    A host given without tenant/workspace (and not a pasted endpoint) is run as a flowload
    simulator (its tenant/workspace, and its flows when the scenario lists none) only when it
    is one: ``simulator=True`` when the caller started it, else (``None``) when it is on
    loopback and answers the simulator's own ``/_flowload/stats``. Any other host needs tenant
    and workspace (or a pasted endpoint): never guess them for a real server.
    """
    if host:
        _check_scheme(host)
    simulator_like = _simulator_host(scenario, host, simulator=simulator)
    if simulator_like and host:
        target = FlowTarget(host, SIMULATOR_TENANT, SIMULATOR_WORKSPACE)
    else:
        if host:
            scenario = apply_overrides(scenario, host=host)
        if scenario.target is None:
            raise ConfigError(
                "no target: pass --host, set [target] url in the scenario, or give neither "
                "to run against the bundled simulator"
            )
        target = scenario.target.target
    flows = scenario.flows
    if not flows:
        if not simulator_like:
            raise ConfigError(
                f"{scenario.source or 'the scenario'}: no [[flows]]; list the flows to run "
                "(name, id), or paste a flow's full endpoint as --host"
            )
        flows = _simulator_flows(scenario)
    keys = {
        env.env: _key_for(scenario, env.env, simulator_like=simulator_like) for env in scenario.envs
    }
    return ResolvedRun(
        scenario=scenario,
        plan=build_plan(scenario, target, keys, flows),
        limits=StreamLimits(limit_s=scenario.limit_s, stall_timeout_s=scenario.stall_timeout_s),
        transport=transport_options(scenario, target.base_url, simulator_like=simulator_like),
        host=redact_url(target.base_url),
        simulator_like=simulator_like,
    )


CA_BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def transport_options(
    scenario: Scenario, base_url: str, *, simulator_like: bool, env: Mapping[str, str] | None = None
) -> TransportOptions:
    """How to reach the target: timeouts, trust, client certificate, proxies (checked now).

    A CA bundle comes from the scenario (or ``--ca-bundle``), else ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE``; proxies from ``[target] proxy`` (or ``--proxy``), else the usual
    environment variables, never for a simulator on loopback. Unusable files or proxy URLs are
    ConfigErrors now, not a failure of every stream later.
    """
    environ = os.environ if env is None else env
    bundle = str(scenario.ca_bundle) if scenario.ca_bundle else None
    if bundle is None:
        bundle = next((environ[v] for v in CA_BUNDLE_VARS if environ.get(v)), None)
    proxies = ProxySettings() if simulator_like else ProxySettings.resolve(environ, scenario.proxy)
    options = TransportOptions(
        connect_timeout_s=scenario.connect_timeout_s,
        response_timeout_s=scenario.limit_s + 10.0,
        verify_tls=scenario.verify_tls,
        ca_bundle=bundle,
        proxies=proxies,
        client_cert=str(scenario.client_cert) if scenario.client_cert else None,
        client_key=str(scenario.client_key) if scenario.client_key else None,
    )
    if base_url.lower().startswith("https:") or bundle or options.client_cert:
        tls_context(options)  # loads and checks the CA bundle and the client certificate
    return options


def _key_for(scenario: Scenario, env: Env, *, simulator_like: bool) -> ApiKey | None:
    key = resolve_key(scenario, env)
    if key is None and simulator_like:
        return ApiKey(SIMULATOR_DEMO_KEY)
    if key is None:
        raise ConfigError(
            f"no API key for env {env}: export {scenario.api_key_env or 'FLOW_API_KEY'}=<key> "
            "or set api_key_env / api_key_file in the scenario"
        )
    return key
