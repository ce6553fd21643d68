"""The scenario: what to load, where, with which keys, bodies, gates and limits.

``load_scenario(path)`` reads a TOML scenario file (see ``examples/``); ``default_scenario()``
is what runs without one; ``apply_overrides`` puts command-line values on top; ``resolve_key``
reads an environment's API key from its env var or file, as a redacting :class:`ApiKey`.
"""

from __future__ import annotations

from harness.config.load import load_scenario, loads_scenario
from harness.config.model import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_LIMIT_S,
    DEFAULT_STALL_TIMEOUT_S,
    EnvConfig,
    FlowConfig,
    GateConfig,
    Scenario,
    SimulatorConfig,
    TargetConfig,
    default_scenario,
)
from harness.config.overrides import apply_overrides, resolve_key

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_LIMIT_S",
    "DEFAULT_STALL_TIMEOUT_S",
    "EnvConfig",
    "FlowConfig",
    "GateConfig",
    "Scenario",
    "SimulatorConfig",
    "TargetConfig",
    "apply_overrides",
    "default_scenario",
    "load_scenario",
    "loads_scenario",
    "resolve_key",
]
