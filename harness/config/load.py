"""Read a scenario file (TOML) into a validated :class:`~harness.config.model.Scenario`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.config._fields import MISSING, Node, show_key, type_name
from harness.config.capacity_table import CapacitySettings, read_capacity_table
from harness.config.model import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_LIMIT_S,
    DEFAULT_MAX_ITEM_BYTES,
    DEFAULT_STALL_TIMEOUT_S,
    EnvConfig,
    FlowConfig,
    GateConfig,
    Scenario,
    SimulatorConfig,
    TargetConfig,
)
from harness.config.target import target_from_url
from harness.errors import ConfigError
from harness.flow_api import (
    AuthMode,
    BinaryBody,
    Body,
    Env,
    JsonBody,
    NoBody,
    check_extra_headers,
    check_path_segment,
    parse_auth_mode,
    parse_env,
)
from harness.reader import ItemFormat

__all__ = ["load_scenario", "loads_scenario"]

_TOP_KEYS = ("target", "envs", "flows", "gates", "capacity", "simulator")
_TARGET_KEYS = (
    "url", "tenant", "workspace", "auth", "api_key_env", "api_key_file", "limit_s",
    "stall_timeout_s", "verify_tls", "ca_bundle", "connect_timeout_s", "proxy", "client_cert",
    "client_key",
)  # fmt: skip
_ENV_KEYS = ("name", "weight", "api_key_env", "api_key_file")
_FLOW_KEYS = (
    "name", "id", "method", "weight", "json", "body_file", "content_type", "format", "decode",
    "max_item_bytes", "headers",
)  # fmt: skip
_GATE_KEYS = ("expr", "env", "flow", "abort_on_fail", "delay_abort_s")
_SIMULATOR_KEYS = ("profile", "seed")
_FORMATS = ("auto", *(f.value for f in ItemFormat))
_LITERAL_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "x-api-key"})
_LITERAL_KEY_FIX = (
    "a literal API key is not allowed in a scenario file; put the NAME of the env var "
    f"holding it in api_key_env (default {DEFAULT_API_KEY_ENV}) or a file path in api_key_file"
)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate the scenario file at ``path``; every problem is a ConfigError."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{file}: cannot read the scenario file ({reason})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: the scenario file is not UTF-8 text") from None
    return loads_scenario(text, source=file)


def loads_scenario(text: str, *, source: Path | None = None) -> Scenario:
    """Parse scenario TOML ``text``; relative paths resolve against ``source``'s directory."""
    name = str(source) if source is not None else "<scenario>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message gives the line and column, never a value.
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}: not valid TOML: nested too deeply") from None
    base_dir = source.parent if source is not None else Path.cwd()
    root = Node(doc, "", name, base_dir)
    _refuse_literal_keys(root, doc, "")
    root.check_keys(_TOP_KEYS)
    return _scenario(root, source)


def _refuse_literal_keys(root: Node, value: Any, path: str) -> None:
    """Refuse ``api_key = ...`` (or an x-api-key header) anywhere but inside JSON bodies."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{show_key(key)}" if path else show_key(key)
            if key.lower() in _LITERAL_KEY_NAMES:
                raise ConfigError(f"{root.file}: {where}: {_LITERAL_KEY_FIX}")
            if key == "json" and path.startswith("flows["):
                continue  # the flow's own input may legitimately have such a field
            _refuse_literal_keys(root, item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_literal_keys(root, item, f"{path}[{index}]")


def _scenario(root: Node, source: Path | None) -> Scenario:
    target_node = root.table("target") or Node({}, "target", root.file, root.base_dir)
    target_node.check_keys(_TARGET_KEYS)
    target, tenant, workspace = _target(target_node)
    flows = _flows(root)
    if flows is None:
        flows = _endpoint_flows(target)
    envs = _envs(root)
    if envs is None:
        envs = _endpoint_envs(target)
    api_key_env, api_key_file = _key_source(target_node, default_env=DEFAULT_API_KEY_ENV)
    t = target_node
    auth = _auth(t)
    limit_s = t.number("limit_s", DEFAULT_LIMIT_S)
    stall_timeout_s = t.number("stall_timeout_s", DEFAULT_STALL_TIMEOUT_S)
    verify_tls = t.boolean("verify_tls", True)
    ca_bundle = t.file_path("ca_bundle", must_exist=True)
    connect_timeout_s = t.number("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S)
    proxy = t.string("proxy")
    client_cert = t.file_path("client_cert", must_exist=True)
    client_key = t.file_path("client_key", must_exist=True)
    gates, capacity, simulator = _gates(root, envs, flows), _capacity(root), _simulator(root)
    with root.context(None):  # the record's own checks; the ones above name their key
        return Scenario(
            target=target,
            auth=auth,
            api_key_env=api_key_env,
            api_key_file=api_key_file,
            limit_s=limit_s,
            stall_timeout_s=stall_timeout_s,
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            connect_timeout_s=connect_timeout_s,
            proxy=proxy,
            client_cert=client_cert,
            client_key=client_key,
            envs=envs,
            flows=flows,
            gates=gates,
            capacity=capacity,
            simulator=simulator,
            source=source,
            tenant=tenant,
            workspace=workspace,
        )


def _target(node: Node) -> tuple[TargetConfig | None, str | None, str | None]:
    tenant = node.string("tenant")
    workspace = node.string("workspace")
    url = node.string("url")
    if url is None:
        return None, tenant, workspace
    with node.context("url"):
        target = target_from_url(url, tenant, workspace)
    return target, target.target.tenant, target.target.workspace


def _endpoint_flows(target: TargetConfig | None) -> tuple[FlowConfig, ...]:
    """No [[flows]]: a pasted endpoint's flow, else none (the glue uses the simulator's)."""
    if target is None or target.endpoint_flow_id is None:
        return ()
    flow_id = target.endpoint_flow_id
    return (FlowConfig(name=flow_id, id=flow_id),)


def _endpoint_envs(target: TargetConfig | None) -> tuple[EnvConfig, ...]:
    """No [[envs]]: a pasted endpoint's env, else all three with equal weight."""
    if target is not None and target.endpoint_env is not None:
        return (EnvConfig(target.endpoint_env),)
    return tuple(EnvConfig(env) for env in Env)


def _auth(node: Node) -> AuthMode:
    value = node.string("auth", default="header")
    with node.context("auth"):
        return parse_auth_mode(value or "header")


def _key_source(node: Node, *, default_env: str | None) -> tuple[str | None, Path | None]:
    if node.has("api_key_env") and node.has("api_key_file"):
        raise node.error("api_key_file", "give api_key_env or api_key_file, not both")
    key_file = node.file_path("api_key_file", must_exist=False)  # checked when the key is read
    key_env = node.env_var("api_key_env")
    if key_env is None and key_file is None:
        key_env = default_env
    return key_env, key_file


def _envs(root: Node) -> tuple[EnvConfig, ...] | None:
    nodes = root.tables("envs")
    if nodes is None:
        return None
    if not nodes:
        raise root.error("envs", "is empty; give at least one [[envs]] or leave it out")
    envs: list[EnvConfig] = []
    for node in nodes:
        node.check_keys(_ENV_KEYS)
        name = node.raw("name")
        if name is MISSING or isinstance(name, bool) or not isinstance(name, str | int):
            raise node.error("name", "expected Development, Test, Production, 0, 1 or 2")
        with node.context("name"):
            env = parse_env(name)
        if any(e.env is env for e in envs):
            raise node.error("name", f"env {env} is listed twice")
        key_env, key_file = _key_source(node, default_env=None)
        weight = node.number("weight", 1.0)
        envs.append(EnvConfig(env, weight, key_env, key_file))
    return tuple(envs)


def _flows(root: Node) -> tuple[FlowConfig, ...] | None:
    nodes = root.tables("flows")
    if nodes is None:
        return None
    flows: list[FlowConfig] = []
    for node in nodes:
        flow = _flow(node)
        if any(f.name == flow.name for f in flows):
            raise node.error(
                "name", f"flow name {flow.name[:60]!r} is used twice; names are unique"
            )
        flows.append(flow)
    return tuple(flows)


def _flow(node: Node) -> FlowConfig:
    node.check_keys(_FLOW_KEYS)
    flow_id = node.string("id", required=True) or ""
    name = node.string("name", default=flow_id) or flow_id
    method = (node.string("method", default="POST") or "POST").upper()
    if method not in {"POST", "GET"}:
        raise node.error("method", "expected POST or GET")
    body = _body(node)
    if method == "GET" and not isinstance(body, NoBody):
        raise node.error("method", "a GET request cannot carry a body; use POST or drop the body")
    fmt = node.string("format", default="auto") or "auto"
    if fmt not in _FORMATS:
        raise node.error("format", f"expected one of: {', '.join(_FORMATS)}")
    headers = _headers(node, body)
    weight = node.number("weight", 1.0)
    decode = node.boolean("decode", True)
    max_item_bytes = node.integer("max_item_bytes", DEFAULT_MAX_ITEM_BYTES, minimum=1)
    with node.context("id"):
        check_path_segment("flow id", flow_id)
    with node.context(None):
        return FlowConfig(
            name=name,
            id=flow_id,
            method=method,
            weight=weight,
            body=body,
            format=None if fmt == "auto" else ItemFormat(fmt),
            decode=decode,
            max_item_bytes=max_item_bytes or DEFAULT_MAX_ITEM_BYTES,
            headers=headers,
        )


def _body(node: Node) -> Body:
    if node.has("json") and node.has("body_file"):
        raise node.error("body_file", "give json or body_file, not both")
    if node.has("content_type") and not node.has("body_file"):
        raise node.error("content_type", "only goes with body_file (json is application/json)")
    if node.has("json"):
        with node.context("json"):
            return JsonBody(node.raw("json"))
    path = node.file_path("body_file", must_exist=True)
    if path is None:
        return NoBody()
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise node.error("body_file", f"cannot read {str(path)[:200]!r} ({reason})") from None
    content_type = node.string("content_type", default="application/octet-stream")
    with node.context("content_type"):
        return BinaryBody(data, content_type or "application/octet-stream")


def _headers(node: Node, body: Body) -> Mapping[str, str]:
    table = node.table("headers")
    if table is None:
        return MappingProxyType({})
    for key, value in table.data.items():
        if not isinstance(value, str):
            raise table.error(key, f"expected a string header value, got {type_name(value)}")
    with table.context(None):
        checked = dict(check_extra_headers(table.data))
    if body.content_type is not None and any(k.lower() == "content-type" for k in checked):
        raise table.error("Content-Type", "is set by the body; use content_type with body_file")
    return MappingProxyType(checked)


def _gates(
    root: Node, envs: tuple[EnvConfig, ...], flows: tuple[FlowConfig, ...]
) -> tuple[GateConfig, ...]:
    gates: list[GateConfig] = []
    for node in root.tables("gates") or []:
        node.check_keys(_GATE_KEYS)
        expr = node.string("expr", required=True) or ""
        env: Env | None = None
        if node.has("env"):
            raw = node.raw("env")
            if isinstance(raw, bool) or not isinstance(raw, str | int):
                raise node.error("env", "expected Development, Test, Production, 0, 1 or 2")
            with node.context("env"):
                env = parse_env(raw)
            if all(e.env is not env for e in envs):
                listed = ", ".join(e.env.value for e in envs)
                raise node.error("env", f"env {env} is not in the run; configured envs: {listed}")
        flow = node.string("flow")
        if flow is not None and flows and all(f.name != flow for f in flows):
            listed = ", ".join(f.name for f in flows)
            raise node.error("flow", f"no flow named {flow[:60]!r}; configured flows: {listed}")
        abort = node.boolean("abort_on_fail", False)
        delay = node.number("delay_abort_s", 0.0, strict=False)
        gates.append(GateConfig(expr, env, flow, abort, delay))
    return tuple(gates)


def _capacity(root: Node) -> CapacitySettings:
    node = root.table("capacity")
    if node is None:
        return CapacitySettings()
    with node.context(None):
        return read_capacity_table(node.data)


def _simulator(root: Node) -> SimulatorConfig:
    node = root.table("simulator")
    if node is None:
        return SimulatorConfig()
    node.check_keys(_SIMULATOR_KEYS)
    return SimulatorConfig(
        profile=node.file_path("profile", must_exist=True),
        seed=node.integer("seed", None),
    )
