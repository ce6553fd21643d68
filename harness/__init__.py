"""flowload: a load-testing harness for streaming HTTP APIs (Flow "Run streaming").

The library, usable without Locust. The names below are the public surface; each is imported
on first use, so ``import harness`` stays cheap (the CLI and the simulator import it too)::

    import harness as fl

    request = fl.build_stream_request(target, flow_id, fl.Env.TEST, key, fl.AuthMode.HEADER, body)
    result = fl.measure_stream(fl.HttpClient(), request, env="Test", flow="orders",
                               limits=fl.StreamLimits(limit_s=300, stall_timeout_s=60))

``docs/architecture.md`` maps the packages behind them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.criteria import Gate, parse_gate
    from harness.errors import ConfigError, FlowloadError
    from harness.flow_api import AuthMode, Env, FlowTarget, JsonBody, build_stream_request
    from harness.reader import ItemReader
    from harness.results import Outcome, RunData, StreamResult, load_run
    from harness.run.measure import StreamLimits, measure_stream
    from harness.secrets import ApiKey
    from harness.stats import Recorder
    from harness.transport import HttpClient

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ApiKey": "harness.secrets",
    "AuthMode": "harness.flow_api",
    "ConfigError": "harness.errors",
    "Env": "harness.flow_api",
    "FlowTarget": "harness.flow_api",
    "FlowloadError": "harness.errors",
    "Gate": "harness.criteria",
    "HttpClient": "harness.transport",
    "ItemReader": "harness.reader",
    "JsonBody": "harness.flow_api",
    "Outcome": "harness.results",
    "Recorder": "harness.stats",
    "RunData": "harness.results",
    "StreamLimits": "harness.run.measure",
    "StreamResult": "harness.results",
    "build_stream_request": "harness.flow_api",
    "load_run": "harness.results",
    "measure_stream": "harness.run.measure",
    "parse_gate": "harness.criteria",
}

__all__ = [
    "ApiKey",
    "AuthMode",
    "ConfigError",
    "Env",
    "FlowTarget",
    "FlowloadError",
    "Gate",
    "HttpClient",
    "ItemReader",
    "JsonBody",
    "Outcome",
    "Recorder",
    "RunData",
    "StreamLimits",
    "StreamResult",
    "__version__",
    "build_stream_request",
    "load_run",
    "measure_stream",
    "parse_gate",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
