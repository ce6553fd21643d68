"""Simulator profiles: which flows exist, how they stream, and per-environment behaviour.

A profile is a TOML file (see ``default_profile.toml`` for a commented example). Everything has
a default, so a profile may list only its flows.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.simulator.distributions import Distribution, parse_distribution
from harness.simulator.faults import Fault, FaultMix, parse_fault

ENV_NAMES: tuple[str, ...] = ("Development", "Test", "Production")
FORMATS: tuple[str, ...] = ("json", "ndjson", "sse")
_FLOW_KEYS = {"id", "name", "format", "ttfi_ms", "gap_ms", "items", "item_bytes", "fault"}
_FLOW_KEYS |= {"fault_rate"}
_ENV_KEYS = {"speed", "slots", "queue", "reject_status", "retry_after_s", "api_keys", "api_key_env"}
_TOP_KEYS = {"seed", "limit_s", "fault_rate", "faults", "tenants", "workspaces", "envs", "flows"}


def parse_env(text: str) -> str | None:
    """The canonical env name for ``Development``/``Test``/``Production`` or ``0``/``1``/``2``.

    Names match case-insensitively (like ASP.NET enum binding); anything else gives None.
    """
    if text in ("0", "1", "2"):
        return ENV_NAMES[int(text)]
    for name in ENV_NAMES:
        if text.lower() == name.lower():
            return name
    return None


@dataclass(frozen=True, slots=True)
class FlowProfile:
    """How one simulated flow streams (times in milliseconds, sizes in bytes)."""

    id: str
    name: str
    ttfi_ms: Distribution
    gap_ms: Distribution
    items: Distribution
    item_bytes: Distribution
    format: str = "json"
    fault: Fault | None = None
    fault_rate: float | None = None


@dataclass(frozen=True, slots=True)
class EnvSettings:
    """Per-environment behaviour: speed multiplier, capacity and accepted keys."""

    name: str
    speed: float = 1.0
    slots: int = 200
    queue: int = 400
    reject_status: int = 429
    retry_after_s: int = 1
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)


@dataclass(frozen=True, slots=True)
class Profile:
    """A whole simulator profile. ``tenants``/``workspaces`` None means any is accepted."""

    flows: Mapping[str, FlowProfile]
    envs: Mapping[str, EnvSettings]
    faults: FaultMix = field(default_factory=FaultMix)
    tenants: frozenset[str] | None = None
    workspaces: frozenset[str] | None = None
    seed: int | None = None
    limit_s: float | None = None

    def with_api_key(self, key: str) -> Profile:
        """The same profile where ``key`` (only) is accepted in every env."""
        envs = {n: replace(e, api_keys=frozenset({key})) for n, e in self.envs.items()}
        return replace(self, envs=envs)

    def with_fault_rate(self, rate: float) -> Profile:
        """The same profile with another random-fault rate."""
        return replace(self, faults=self.faults.with_rate(rate))

    @property
    def open_auth(self) -> bool:
        """True when no env has configured keys: any non-empty key is accepted."""
        return not any(e.api_keys for e in self.envs.values())


def _table(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table, got {type(raw).__name__}")
    return raw


def _check_keys(where: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")


def _typed(where: str, raw: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = raw.get(key, default)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
    return value


def _parse_flow(where: str, raw: Mapping[str, Any]) -> FlowProfile:
    _check_keys(where, raw, _FLOW_KEYS)
    flow_id = _typed(where, raw, "id", str, "")
    if not flow_id:
        raise ConfigError(f"{where}: every flow needs an id (the flowId of its URL)")
    fmt = _typed(where, raw, "format", str, "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fault_spec = _typed(where, raw, "fault", str, "")
    rate = raw.get("fault_rate")
    return FlowProfile(
        id=flow_id,
        name=_typed(where, raw, "name", str, flow_id),
        ttfi_ms=parse_distribution(f"{where}.ttfi_ms", raw.get("ttfi_ms", 200)),
        gap_ms=parse_distribution(f"{where}.gap_ms", raw.get("gap_ms", 50)),
        items=parse_distribution(f"{where}.items", raw.get("items", 10)),
        item_bytes=parse_distribution(f"{where}.item_bytes", raw.get("item_bytes", 200)),
        format=fmt,
        fault=parse_fault(fault_spec) if fault_spec else None,
        fault_rate=None if rate is None else _typed(where, raw, "fault_rate", float, 0.0),
    )


def _parse_keys(where: str, raw: Mapping[str, Any]) -> frozenset[str]:
    keys = raw.get("api_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"{where}: api_keys must be a list of non-empty strings")
    var = _typed(where, raw, "api_key_env", str, "")
    if var:
        value = os.environ.get(var, "")
        if not value:
            raise ConfigError(f"{where}: api_key_env names {var!r}, which is not set or empty")
        keys = [*keys, value]
    return frozenset(keys)


def _parse_env(where: str, name: str, raw: Mapping[str, Any]) -> EnvSettings:
    _check_keys(where, raw, _ENV_KEYS)
    env = EnvSettings(
        name=name,
        speed=_typed(where, raw, "speed", float, 1.0),
        slots=_typed(where, raw, "slots", int, 200),
        queue=_typed(where, raw, "queue", int, 400),
        reject_status=_typed(where, raw, "reject_status", int, 429),
        retry_after_s=_typed(where, raw, "retry_after_s", int, 1),
        api_keys=_parse_keys(where, raw),
    )
    if env.speed <= 0 or env.slots < 1 or env.queue < 0 or env.retry_after_s < 0:
        raise ConfigError(f"{where}: need speed > 0, slots >= 1, queue >= 0, retry_after_s >= 0")
    if env.reject_status not in (429, 503):
        raise ConfigError(f"{where}: reject_status must be 429 or 503, got {env.reject_status}")
    return env


def _names(where: str, raw: object) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(f"{where} must be a list of strings")
    return frozenset(raw)


def profile_from_dict(raw: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Validate a parsed TOML document into a Profile; errors name ``source`` and the key."""
    _check_keys(source, raw, _TOP_KEYS)
    envs_raw = _table(f"{source}: envs", raw.get("envs", {}))
    envs: dict[str, EnvSettings] = {}
    for key, value in envs_raw.items():
        name = parse_env(key)
        if name is None:
            raise ConfigError(f"{source}: envs.{key} is not an env; use {', '.join(ENV_NAMES)}")
        envs[name] = _parse_env(f"{source}: envs.{key}", name, _table(f"envs.{key}", value))
    for name in ENV_NAMES:
        envs.setdefault(name, EnvSettings(name))
    flows_raw = raw.get("flows", [])
    if not isinstance(flows_raw, list) or not flows_raw:
        raise ConfigError(f"{source}: needs at least one [[flows]] table")
    flows: dict[str, FlowProfile] = {}
    for i, item in enumerate(flows_raw):
        flow = _parse_flow(f"{source}: flows[{i}]", _table(f"{source}: flows[{i}]", item))
        if flow.id in flows:
            raise ConfigError(f"{source}: flows[{i}] repeats the id {flow.id!r}")
        flows[flow.id] = flow
    weights = _table(f"{source}: faults", raw.get("faults", {}))
    limit = raw.get("limit_s")
    return Profile(
        flows=flows,
        envs=envs,
        faults=FaultMix.from_weights(_typed(source, raw, "fault_rate", float, 0.0), weights),
        tenants=_names(f"{source}: tenants", raw.get("tenants")),
        workspaces=_names(f"{source}: workspaces", raw.get("workspaces")),
        seed=_typed(source, raw, "seed", int, 0) if "seed" in raw else None,
        limit_s=None if limit is None else _typed(source, raw, "limit_s", float, 300.0),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile TOML file."""
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read profile {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {file} is not valid TOML: {exc}") from None
    return profile_from_dict(raw, str(file))


def default_profile() -> Profile:
    """The built-in profile (package data ``default_profile.toml``)."""
    text = resources.files("harness.simulator").joinpath("default_profile.toml").read_text("utf-8")
    return profile_from_dict(tomllib.loads(text), "default_profile.toml")
