"""Command-line overrides on a scenario, and reading the API key for an environment."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from harness.config.model import DEFAULT_API_KEY_ENV, FlowConfig, Scenario
from harness.config.target import target_from_url
from harness.errors import ConfigError
from harness.flow_api import Env, parse_auth_mode, parse_env
from harness.secrets import ApiKey

__all__ = ["apply_overrides", "resolve_key"]


def _positive(option: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{option} must be a number > 0")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{option} must be a finite number > 0")
    return float(value)


def apply_overrides(
    s: Scenario,
    *,
    host: str | None = None,
    envs: Sequence[str] | None = None,
    api_key_mode: str | None = None,
    stall_timeout_s: float | None = None,
    limit_s: float | None = None,
    insecure: bool | None = None,
    proxy: str | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> Scenario:
    """``s`` with command-line/env-var values on top; None leaves a setting as it is.

    ``host`` may be a base URL (tenant/workspace then come from the scenario) or a pasted
    endpoint: its env, if any, restricts the run to that env unless ``envs`` is given, and
    its flow becomes the only flow when the scenario has none.
    """
    if host is not None:
        s = _with_host(s, host, restrict_env=envs is None)
    if envs is not None:
        s = _with_envs(s, envs)
    if api_key_mode is not None:
        s = replace(s, auth=parse_auth_mode(api_key_mode))
    if stall_timeout_s is not None:
        s = replace(s, stall_timeout_s=_positive("--stall-timeout", stall_timeout_s))
    if limit_s is not None:
        s = replace(s, limit_s=_positive("--limit", limit_s))
    if insecure is not None:
        s = replace(s, verify_tls=not insecure)
    if proxy is not None:
        s = replace(s, proxy=proxy)
    for name, path in (("--client-cert", client_cert), ("--client-key", client_key)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{name}: {path} is not a file; give a PEM file")
    if client_cert is not None:
        s = replace(s, client_cert=client_cert)
    if client_key is not None:
        s = replace(s, client_key=client_key)
    return s


def _with_host(s: Scenario, host: str, *, restrict_env: bool) -> Scenario:
    try:
        target = target_from_url(host, s.tenant, s.workspace)
    except ConfigError as exc:
        raise ConfigError(f"--host: {exc}") from None
    flows = s.flows
    if not flows and target.endpoint_flow_id is not None:
        flows = (FlowConfig(name=target.endpoint_flow_id, id=target.endpoint_flow_id),)
    s = replace(
        s, target=target, flows=flows, tenant=target.target.tenant,
        workspace=target.target.workspace,
    )  # fmt: skip
    if restrict_env and target.endpoint_env is not None:
        s = _with_envs(s, [target.endpoint_env.value])
    return s


def _with_envs(s: Scenario, names: Sequence[str]) -> Scenario:
    """Keep only the named envs (comma-separated lists allowed), in the given order."""
    if isinstance(names, str):
        names = [names]
    wanted: list[Env] = []
    for name in names:
        for part in str(name).split(","):
            if not part.strip():
                continue
            try:
                env = parse_env(part)
            except ConfigError as exc:
                raise ConfigError(f"--flow-env: {exc}; configured: {s.env_names()}") from None
            if env not in wanted:
                wanted.append(env)
    if not wanted:
        raise ConfigError(f"--flow-env: no env given; configured: {s.env_names()}")
    kept = tuple(s.env_config(env) for env in wanted)  # raises, listing the configured envs
    return replace(s, envs=kept)


def resolve_key(s: Scenario, env: Env) -> ApiKey | None:
    """The API key for ``env``: the env's own source if configured, else the target's.

    An env that is not in the run (e.g. when probing the embedded simulator) gets the
    target's key source.

    A configured source that is missing or empty is a ConfigError naming it; there is no
    silent fallback from an env's own key to the shared one (keys differ per environment).
    None only when no source is configured, or when running against the embedded simulator
    and the default variable is unset.
    """
    config = next((c for c in s.envs if c.env is env), None)  # not in the run: shared key
    if config is not None and (config.api_key_env is not None or config.api_key_file is not None):
        return _read_key(config.api_key_env, config.api_key_file, f"env {env}")
    if s.api_key_env is None and s.api_key_file is None:
        return None
    if (
        s.target is None
        and s.api_key_file is None
        and s.api_key_env == DEFAULT_API_KEY_ENV
        and not os.environ.get(DEFAULT_API_KEY_ENV)
    ):
        return None  # the simulator does not need a key
    return _read_key(s.api_key_env, s.api_key_file, "the target")


def _read_key(var: str | None, file: Path | None, owner: str) -> ApiKey:
    if var is not None:
        value = os.environ.get(var, "")
        if not value.strip():
            state = "is empty" if var in os.environ else "is not set"
            raise ConfigError(
                f"the API key for {owner}: environment variable {var} {state}; "
                f"export {var}=<key> (or use api_key_file)"
            )
        where = f"environment variable {var}"
        value = value.strip()
    else:
        if file is None:
            raise ConfigError(f"no API key source configured for {owner}")
        value = _first_line(file, owner)
        where = f"file {file}"
    try:
        return ApiKey(value)
    except ConfigError as exc:
        raise ConfigError(f"the API key for {owner} from {where}: {exc}") from None


def _first_line(file: Path, owner: str) -> str:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(
            f"the API key for {owner}: cannot read api_key_file {file} ({reason}); "
            "create it with the key on its first line"
        ) from None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        raise ConfigError(
            f"the API key for {owner}: api_key_file {file} is empty; put the key on its first line"
        )
    return first
