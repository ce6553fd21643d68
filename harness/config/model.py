"""The scenario as immutable, self-validating records (what :mod:`harness.config.load` returns)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from harness.config.capacity_table import CapacitySettings
from harness.errors import ConfigError
from harness.flow_api import AuthMode, Body, Env, FlowTarget, NoBody
from harness.reader import ItemFormat

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_LIMIT_S",
    "DEFAULT_MAX_ITEM_BYTES",
    "DEFAULT_STALL_TIMEOUT_S",
    "EnvConfig",
    "FlowConfig",
    "GateConfig",
    "Scenario",
    "SimulatorConfig",
    "TargetConfig",
    "default_scenario",
]

DEFAULT_LIMIT_S = 300.0  # the Flow server's maximum execution time
DEFAULT_STALL_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_API_KEY_ENV = "FLOW_API_KEY"
DEFAULT_MAX_ITEM_BYTES = 16 * 1024 * 1024


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0")


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """The server under test; ``endpoint_*`` keep what a pasted full endpoint said, if any."""

    target: FlowTarget
    endpoint_flow_id: str | None = None
    endpoint_env: Env | None = None


@dataclass(frozen=True, slots=True)
class EnvConfig:
    """One environment to load, its share of the streams and its own key source, if any."""

    env: Env
    weight: float = 1.0
    api_key_env: str | None = None
    api_key_file: Path | None = None

    def __post_init__(self) -> None:
        _positive(f"the weight of env {self.env}", self.weight)


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """One flow to run: its label, id, request shape and how to read its stream."""

    name: str
    id: str
    method: str = "POST"
    weight: float = 1.0
    body: Body = field(default_factory=NoBody)
    format: ItemFormat | None = None  # None: sniff from Content-Type / first byte
    decode: bool = True
    max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.id:
            raise ConfigError("a flow needs a non-empty name and id")
        if self.method not in {"POST", "GET"}:
            raise ConfigError(f"flow {self.name}: method must be POST or GET")
        if self.method == "GET" and not isinstance(self.body, NoBody):
            raise ConfigError(f"flow {self.name}: a GET request cannot carry a body")
        _positive(f"the weight of flow {self.name}", self.weight)
        if self.max_item_bytes < 1:
            raise ConfigError(f"flow {self.name}: max_item_bytes must be >= 1")
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


@dataclass(frozen=True, slots=True)
class GateConfig:
    """A pass/fail rule on the summary; ``expr`` is parsed later by the gates module."""

    expr: str
    env: Env | None = None
    flow: str | None = None
    abort_on_fail: bool = False
    delay_abort_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Settings for the embedded simulator used when there is no target."""

    profile: Path | None = None
    seed: int | None = None


ALL_ENVS: tuple[EnvConfig, ...] = tuple(EnvConfig(env) for env in Env)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a run needs to know before it starts, validated.

    ``target`` None means "no server given": the glue starts the embedded simulator.
    ``tenant``/``workspace`` keep parts given without a URL, for ``--host`` to complete.
    """

    target: TargetConfig | None = None
    auth: AuthMode = AuthMode.HEADER
    api_key_env: str | None = DEFAULT_API_KEY_ENV
    api_key_file: Path | None = None
    limit_s: float = DEFAULT_LIMIT_S
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
    verify_tls: bool = True
    ca_bundle: Path | None = None
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    proxy: str | None = None  # a forward proxy URL for every target (else HTTP(S)_PROXY)
    client_cert: Path | None = None  # PEM certificate for servers that require mTLS
    client_key: Path | None = None  # its PEM key (None: in the certificate file)
    envs: tuple[EnvConfig, ...] = ALL_ENVS
    flows: tuple[FlowConfig, ...] = ()
    gates: tuple[GateConfig, ...] = ()
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    source: Path | None = None
    tenant: str | None = None
    workspace: str | None = None

    def __post_init__(self) -> None:
        for name in ("limit_s", "stall_timeout_s", "connect_timeout_s"):
            _positive(name, getattr(self, name))
        if not self.envs:
            raise ConfigError("a scenario needs at least one env")
        envs = [e.env for e in self.envs]
        if len(set(envs)) != len(envs):
            raise ConfigError("each env may appear only once")
        names = [f.name for f in self.flows]
        if len(set(names)) != len(names):
            raise ConfigError("flow names must be unique")

    def env_config(self, env: Env) -> EnvConfig:
        """The configuration of ``env``, or ConfigError listing the configured envs."""
        for config in self.envs:
            if config.env is env:
                return config
        raise ConfigError(f"env {env} is not configured; configured: {self.env_names()}")

    def env_names(self) -> str:
        """The configured envs, comma-separated (for messages)."""
        return ", ".join(e.env.value for e in self.envs)


def default_scenario() -> Scenario:
    """The scenario used when no file is given: simulator, all envs, header auth."""
    return Scenario()
