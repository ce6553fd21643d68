"""Scenario files: examples load, every mistake is a one-line ConfigError, keys never leak."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config import (
    DEFAULT_API_KEY_ENV,
    EnvConfig,
    FlowConfig,
    Scenario,
    apply_overrides,
    default_scenario,
    load_scenario,
    loads_scenario,
    resolve_key,
)
from harness.config.capacity_table import CapacitySettings, LoadMode
from harness.errors import ConfigError
from harness.flow_api import AuthMode, BinaryBody, Env, FlowTarget, JsonBody, NoBody
from harness.reader import ItemFormat

# Seeded (a failure replays exactly) and no deadline (the machine is shared).
SETTINGS = settings(derandomize=True, deadline=None)
FUZZ = settings(SETTINGS, suppress_health_check=[HealthCheck.function_scoped_fixture])


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "fk_unique_Hx83nQz5Wm1Rp7Kt2Vb9"
FLOW = "9d3c6f1e-7a52-4c1b-9f0e-2b8d4a6c1e37"
ENDPOINT = f"https://flow.example.com/api/v1/tenants/acme/workspaces/sales/flows/{FLOW}/stream"
BASE = '[target]\nurl = "https://flow.example.com"\ntenant = "acme"\nworkspace = "sales"\n'


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


# --- defaults and examples ---------------------------------------------------------------


def test_defaults() -> None:
    s = default_scenario()
    assert s.target is None
    assert s.auth is AuthMode.HEADER
    assert (s.api_key_env, s.api_key_file) == (DEFAULT_API_KEY_ENV, None)
    assert (s.limit_s, s.stall_timeout_s) == (300.0, 60.0)
    assert [e.env for e in s.envs] == list(Env)
    assert {e.weight for e in s.envs} == {1.0}
    assert s.flows == ()
    assert s.gates == ()
    assert s.verify_tls is True
    assert s.source is None
    assert s.capacity == CapacitySettings()


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, ""))
    assert s == Scenario(source=tmp_path / "scenario.toml")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.source == path
    assert s.target is not None
    assert s.flows


def test_minimal_example() -> None:
    s = load_scenario(EXAMPLES / "minimal.toml")
    assert s.target is not None
    assert s.target.target == FlowTarget("https://flow.example.com", "acme", "sales")
    [flow] = s.flows
    assert (flow.name, flow.id, flow.method, flow.weight) == ("orders", FLOW, "POST", 1.0)
    assert flow.body == JsonBody({"customer": 42})
    assert flow.format is None
    assert [e.env for e in s.envs] == list(Env)


def test_multi_env_example() -> None:
    s = load_scenario(EXAMPLES / "multi-env.toml")
    assert [(e.env, e.weight, e.api_key_env) for e in s.envs] == [
        (Env.TEST, 1.0, "FLOW_API_KEY_TEST"),
        (Env.PRODUCTION, 3.0, "FLOW_API_KEY_PRODUCTION"),
    ]
    orders, report = s.flows
    assert orders.weight == 3.0
    assert isinstance(orders.body, JsonBody)
    assert (report.method, report.body, report.format) == ("GET", NoBody(), ItemFormat.JSON_ARRAY)
    assert report.max_item_bytes == 1048576
    assert dict(report.headers) == {"Accept": "application/json"}
    first, second = s.gates
    assert (first.expr, first.env, first.flow) == ("ttfi.p95 < 800ms", Env.PRODUCTION, "orders")
    assert (second.abort_on_fail, second.delay_abort_s) == (True, 60.0)


def test_binary_example_reads_the_payload_relative_to_the_file() -> None:
    s = load_scenario(EXAMPLES / "binary-payload.toml")
    [flow] = s.flows
    assert isinstance(flow.body, BinaryBody)
    assert flow.body.data == (EXAMPLES / "payloads" / "in.bin").read_bytes()
    assert flow.body.content_type == "application/octet-stream"
    assert s.auth is AuthMode.QUERY
    assert s.api_key_env is None
    assert s.api_key_file == Path("~/.config/flowload/flow-api-key").expanduser()


def test_capacity_example_reads_the_capacity_table_typed() -> None:
    s = load_scenario(EXAMPLES / "capacity.toml")
    assert s.capacity.mode is LoadMode.STEPPED
    assert s.capacity.steps == (5.0, 10.0, 20.0, 40.0, 80.0)
    assert s.capacity.slo is not None
    assert s.capacity.slo["error_rate"] == "< 1%"
    assert [e.api_key_env for e in s.envs] == ["FLOW_API_KEY_TEST"]


def test_everything_parses(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("pem")
    (tmp_path / "sim.toml").write_text("")
    (tmp_path / "keys").mkdir()
    text = f"""{BASE}
auth = "QUERY"
api_key_file = "keys/shared"
limit_s = 120
stall_timeout_s = 5.5
verify_tls = false
ca_bundle = "ca.pem"
connect_timeout_s = 2

[[envs]]
name = 0
weight = 0.5
api_key_file = "keys/dev"

[[envs]]
name = "2"

[[flows]]
name = "a"
id = "f1"
method = "post"
json = [1, "two", {{ three = 3.0 }}]
format = "ndjson"
decode = false
headers = {{ "X-Trace" = "on" }}

[[flows]]
id = "f2"

[[gates]]
expr = "duration.p99 < 250s"
flow = "a"
env = "Development"

[capacity]
mode = "arrival"
steps = [1, 2, 4.5]

[simulator]
profile = "sim.toml"
seed = 7
"""
    s = load_scenario(write(tmp_path, text))
    assert s.auth is AuthMode.QUERY
    assert (s.api_key_env, s.api_key_file) == (None, tmp_path / "keys" / "shared")
    assert (s.limit_s, s.stall_timeout_s, s.connect_timeout_s) == (120.0, 5.5, 2.0)
    assert (s.verify_tls, s.ca_bundle) == (False, tmp_path / "ca.pem")
    assert s.envs == (
        EnvConfig(Env.DEVELOPMENT, 0.5, None, tmp_path / "keys" / "dev"),
        EnvConfig(Env.PRODUCTION, 1.0),
    )
    a, f2 = s.flows
    assert (a.method, a.format, a.decode) == ("POST", ItemFormat.NDJSON, False)
    assert a.body == JsonBody([1, "two", {"three": 3.0}])
    assert dict(a.headers) == {"X-Trace": "on"}
    assert (f2.name, f2.id, f2.body) == ("f2", "f2", NoBody())
    assert s.gates[0].env is Env.DEVELOPMENT
    assert (s.capacity.mode, s.capacity.steps) == (LoadMode.ARRIVAL, (1.0, 2.0, 4.5))
    assert (s.simulator.profile, s.simulator.seed) == (tmp_path / "sim.toml", 7)


def test_a_pasted_endpoint_gives_target_flow_and_env(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, f'[target]\nurl = "{ENDPOINT}?env=Test"\n'))
    assert s.target is not None
    assert s.target.target == FlowTarget("https://flow.example.com", "acme", "sales")
    assert (s.target.endpoint_flow_id, s.target.endpoint_env) == (FLOW, Env.TEST)
    assert [(f.name, f.id) for f in s.flows] == [(FLOW, FLOW)]
    assert [e.env for e in s.envs] == [Env.TEST]
    assert (s.tenant, s.workspace) == ("acme", "sales")


def test_a_pasted_endpoint_does_not_replace_configured_flows_and_envs(tmp_path: Path) -> None:
    text = f'[target]\nurl = "{ENDPOINT}?env=Test"\ntenant = "acme"\n'
    text += '[[envs]]\nname = "Production"\n[[flows]]\nname = "x"\nid = "other"\n'
    s = load_scenario(write(tmp_path, text))
    assert [e.env for e in s.envs] == [Env.PRODUCTION]
    assert [f.id for f in s.flows] == ["other"]


def test_parts_without_a_url_wait_for_host(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, '[target]\ntenant = "acme"\nworkspace = "sales"\n'))
    assert s.target is None
    assert (s.tenant, s.workspace) == ("acme", "sales")


def test_a_json_body_may_contain_an_api_key_field(tmp_path: Path) -> None:
    text = BASE + '[[flows]]\nid = "f"\njson = { api_key = "payload field, not ours" }\n'
    [flow] = load_scenario(write(tmp_path, text)).flows
    assert flow.body == JsonBody({"api_key": "payload field, not ours"})


# --- errors: file, key path, what was expected -------------------------------------------

ERRORS = [
    ("bogus = 1\n", ["bogus", "unknown key", "capacity, envs, flows, gates, simulator, target"]),
    ("[target]\nurll = 'x'\n", ["target.urll", "unknown key; did you mean 'url'?"]),
    ('[capacity]\nmode = "steps"\n', ["capacity", "mode 'steps' is not valid; valid: stepped"]),
    ("[capacity]\nsteps = [0, 5]\n", ["capacity", "every step must be a number > 0"]),
    ("[capacity]\nstep_s = 10\nsettle_s = 20\n", ["capacity", "settle_s must be >= 0"]),
    ("[capacity]\nstepz = [1]\n", ["capacity", "unknown key(s) stepz"]),
    ('[capacity.slo]\nttfi_p95_ms = "fast"\n', ["capacity", "SLO 'ttfi_p95_ms fast'"]),
    (BASE + "limit_s = 0\n", ["target.limit_s", "> 0"]),
    (BASE + "limit_s = -5\n", ["target.limit_s", "> 0"]),
    (BASE + "limit_s = nan\n", ["target.limit_s", "finite"]),
    (BASE + "stall_timeout_s = inf\n", ["target.stall_timeout_s", "finite"]),
    (BASE + 'limit_s = "300"\n', ["target.limit_s", "expected a number", "got a string"]),
    (BASE + "limit_s = true\n", ["target.limit_s", "got a boolean"]),
    (BASE + "verify_tls = 1\n", ["target.verify_tls", "true or false"]),
    (BASE + 'auth = "bearer"\n', ["target.auth", "header, query"]),
    (BASE + 'ca_bundle = "missing.pem"\n', ["target.ca_bundle", "not found"]),
    (BASE + 'api_key_env = "A"\napi_key_file = "f"\n', ["target.api_key_file", "not both"]),
    (BASE + 'api_key_env = "MY-KEY"\n', ["target.api_key_env", "NAME of an environment"]),
    ('[target]\nurl = "https://flow.example.com"\n', ["target.url", "tenant and workspace"]),
    ('[target]\nurl = "ftp://h"\ntenant="t"\nworkspace="w"\n', ["target.url", "http://"]),
    ('[target]\nurl = ""\n', ["target.url", "must not be empty"]),
    (f'[target]\nurl = "{ENDPOINT}"\ntenant = "other"\n', ["target.url", "tenant differs"]),
    (f'[target]\nurl = "{ENDPOINT[:-6]}run"\n', ["target.url", "only /stream"]),
    ("target = 3\n", ["target", "expected a table", "got an integer"]),
    (BASE + "[[envs]]\nname = 'Staging'\n", ["envs[0].name", "Development, Test, Production"]),
    (BASE + "[[envs]]\nweight = 1\n", ["envs[0].name", "Development, Test"]),
    (BASE + "[[envs]]\nname = 'Test'\nweight = 0\n", ["envs[0].weight", "> 0"]),
    (BASE + "[[envs]]\nname = 'Test'\n[[envs]]\nname = 1\n", ["envs[1].name", "twice"]),
    ("envs = []\n" + BASE, ["envs", "at least one"]),
    ("envs = [1]\n" + BASE, ["envs[0]", "expected a table"]),
    (BASE + "[[envs]]\nname = 'Test'\ncolour = 'red'\n", ["envs[0].colour", "weight"]),
    (BASE + "[[flows]]\nname = 'a'\n", ["flows[0].id", "required"]),
    (BASE + "[[flows]]\nid = 'a'\n[[flows]]\nid = 'b'\nweight = -1\n", ["flows[1].weight", "> 0"]),
    (BASE + "[[flows]]\nid = 'a'\n[[flows]]\nid = 'a'\n", ["flows[1].name", "used twice"]),
    (BASE + "[[flows]]\nid = 'a'\nmethod = 'PUT'\n", ["flows[0].method", "POST or GET"]),
    (BASE + "[[flows]]\nid = 'a'\nmethod = 'GET'\njson = 1\n", ["flows[0].method", "GET"]),
    (BASE + "[[flows]]\nid = 'a'\njson = 1\nbody_file = 'x'\n", ["flows[0].body_file", "not both"]),
    (BASE + "[[flows]]\nid = 'a'\nbody_file = 'nope.bin'\n", ["flows[0].body_file", "not found"]),
    (BASE + "[[flows]]\nid = 'a'\ncontent_type = 'text/csv'\n", ["flows[0].content_type"]),
    (BASE + "[[flows]]\nid = 'a'\nformat = 'xml'\n", ["flows[0].format", "json_array, ndjson"]),
    (BASE + "[[flows]]\nid = 'a'\nmax_item_bytes = 0\n", ["flows[0].max_item_bytes", ">= 1"]),
    (BASE + "[[flows]]\nid = 'a'\nmax_item_bytes = 1.5\n", ["flows[0].max_item_bytes", "integer"]),
    (BASE + "[[flows]]\nid = '..'\n", ["flows[0].id", "'..'"]),
    (BASE + "[[flows]]\nid = 'a'\nheaders = { Host = 'x' }\n", ["flows[0].headers", "transport"]),
    (BASE + "[[flows]]\nid = 'a'\nheaders = { X = 1 }\n", ["flows[0].headers.X", "string"]),
    (BASE + "[[flows]]\nid = 'a'\njson = 1\nheaders = { content-type = 't/x' }\n", ["body"]),
    (BASE + "[[flows]]\nid = 'a'\njson = 18446744073709551616\n", ["flows[0].json", "encoded"]),
    (BASE + "[[gates]]\nenv = 'Test'\n", ["gates[0].expr", "required"]),
    (BASE + "[[envs]]\nname = 'Test'\n[[gates]]\nexpr = 'x'\nenv = 2\n", ["gates[0].env", "Test"]),
    (BASE + "[[flows]]\nid = 'a'\n[[gates]]\nexpr = 'x'\nflow = 'b'\n", ["gates[0].flow", "a"]),
    (BASE + "[[gates]]\nexpr = 'x'\ndelay_abort_s = -1\n", ["gates[0].delay_abort_s", ">= 0"]),
    ("capacity = [1]\n" + BASE, ["capacity", "expected a table"]),
    (BASE + "[simulator]\nseed = 'x'\n", ["simulator.seed", "integer"]),
    (BASE + "[simulator]\nprofile = 'p.toml'\n", ["simulator.profile", "not found"]),
    (BASE + "[simulator]\nport = 1\n", ["simulator.port", "profile, seed"]),
    ("[target\n", ["not valid TOML", "line 1"]),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_errors_name_file_key_and_fix(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = config_error(tmp_path, text)
    for part in expected:
        assert part in message, (part, message)


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "absent.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f'api_key = "{KEY}"\n', "api_key"),
        (BASE + f'api_key = "{KEY}"\n', "target.api_key"),
        (BASE + f'[[envs]]\nname = "Test"\nAPI_KEY = "{KEY}"\n', "envs[0].API_KEY"),
        (BASE + f'[[flows]]\nid = "f"\nheaders = {{ x-api-key = "{KEY}" }}\n', "x-api-key"),
        (BASE + f'[capacity]\nnested = {{ apikey = "{KEY}" }}\n', "capacity.nested.apikey"),
        (f'[target]\nurl = "{ENDPOINT}?env=Test&api_key={KEY}"\n', "target.url"),
        (f'[target]\nurl = "https://h?api_key={KEY}"\ntenant="t"\nworkspace="w"\n', "target.url"),
        (BASE + f'api_key_env = "{KEY}"\n', "target.api_key_env"),
        (BASE + 'api_key_env = "3f9a2c7e1b4d8a6f0e5c9b2d7a1f4e8c"\n', "target.api_key_env"),
    ],
)
def test_a_literal_key_is_refused_without_echo(tmp_path: Path, text: str, where: str) -> None:
    message = config_error(tmp_path, text)
    assert where in message
    assert KEY not in message
    assert "3f9a2c7e1b4d8a6f0e5c9b2d7a1f4e8c" not in message
    assert "api_key_env" in message or "NAME of an environment variable" in message


# --- any input: only ConfigError ---------------------------------------------------------

_KEYS = [
    "target", "envs", "flows", "gates", "capacity", "simulator", "url", "tenant", "workspace",
    "auth", "api_key_env", "api_key_file", "limit_s", "stall_timeout_s", "verify_tls",
    "ca_bundle", "connect_timeout_s", "name", "weight", "id", "method", "json", "body_file",
    "content_type", "format", "decode", "max_item_bytes", "headers", "expr", "env", "flow",
    "abort_on_fail", "delay_abort_s", "profile", "seed", "api_key", "Host", "x",
]  # fmt: skip
_WORDS = [
    "Production", "test", "2", "header", "query", "POST", "get", "sse", "auto", "ndjson",
    "https://h", ENDPOINT, f"{ENDPOINT}?env=1", "in.bin", "FLOW_API_KEY", "..", "", " ",
]  # fmt: skip
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(_WORDS),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_KEYS) | _text, inner, max_size=4)
    ),
    max_leaves=12,
)
_SECTIONS = {
    "target": ["url", "tenant", "workspace", "auth", "api_key_env", "limit_s", "verify_tls"],
    "envs": ["name", "weight", "api_key_env", "api_key_file"],
    "flows": ["name", "id", "method", "weight", "json", "body_file", "content_type", "format"],
    "gates": ["expr", "env", "flow", "abort_on_fail", "delay_abort_s"],
    "simulator": ["profile", "seed"],
}


def _table(section: str) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(_SECTIONS[section]) | st.sampled_from(_KEYS)
    return st.dictionaries(keys, _scalars | _values, max_size=6)


_shaped = st.fixed_dictionaries(
    {},
    optional={
        "target": _table("target"),
        "envs": st.lists(_table("envs"), max_size=3),
        "flows": st.lists(_table("flows"), max_size=3),
        "gates": st.lists(_table("gates"), max_size=2),
        "simulator": _table("simulator"),
        "capacity": st.dictionaries(_text, _values, max_size=3),
    },
)
_documents = _shaped | st.dictionaries(
    st.sampled_from(_KEYS),
    _values | st.lists(st.dictionaries(st.sampled_from(_KEYS), _values, max_size=5), max_size=3),
    max_size=6,
)


def _scalar_toml(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value)


def to_toml(value: Any) -> str:
    """An inline TOML rendering (tables as inline tables), enough to feed the loader."""
    if isinstance(value, list):
        return "[" + ", ".join(to_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k, ensure_ascii=False)} = {to_toml(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return _scalar_toml(value)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "in.bin").write_bytes(b"\x00\x01")
    return path


def _check_only_config_errors(text: str, source: Path) -> None:
    try:
        s = loads_scenario(text, source=source)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert isinstance(s, Scenario)
        return
    assert "\n" not in message
    assert message.startswith(str(source))


@settings(FUZZ, max_examples=300)
@given(_documents)
def test_structured_input_only_raises_config_error(scratch: Path, doc: dict[str, Any]) -> None:
    text = "\n".join(f"{json.dumps(k)} = {to_toml(v)}" for k, v in doc.items())
    _check_only_config_errors(text, scratch / "fuzz.toml")


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_config_error(scratch: Path, text: str) -> None:
    _check_only_config_errors(text, scratch / "fuzz.toml")


@settings(FUZZ, max_examples=300)
@given(
    st.sampled_from(sorted(EXAMPLES.glob("*.toml"))),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 5), _text), min_size=1, max_size=4),
)
def test_mangled_examples_only_raise_config_error(
    scratch: Path, example: Path, edits: list[tuple[int, int, str]]
) -> None:
    text = example.read_text(encoding="utf-8")
    for position, cut, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at + cut :]
    _check_only_config_errors(text, example)


# --- overrides ---------------------------------------------------------------------------


def _parts_only() -> Scenario:
    return loads_scenario('[target]\ntenant = "acme"\nworkspace = "sales"\n')


def test_host_as_base_url_uses_tenant_and_workspace_from_the_file() -> None:
    s = apply_overrides(_parts_only(), host="http://127.0.0.1:8080/")
    assert s.target is not None
    assert s.target.target == FlowTarget("http://127.0.0.1:8080", "acme", "sales")
    assert [e.env for e in s.envs] == list(Env)


def test_host_as_base_url_without_tenant_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="--host: a base URL needs tenant and workspace"):
        apply_overrides(default_scenario(), host="https://flow.example.com")


def test_host_as_pasted_endpoint_sets_target_flow_and_env() -> None:
    s = apply_overrides(default_scenario(), host=f"{ENDPOINT}?env=Production")
    assert s.target is not None
    assert s.target.target.base_url == "https://flow.example.com"
    assert [f.id for f in s.flows] == [FLOW]
    assert [e.env for e in s.envs] == [Env.PRODUCTION]


def test_explicit_envs_win_over_the_pasted_env() -> None:
    s = apply_overrides(default_scenario(), host=f"{ENDPOINT}?env=Production", envs=["Test", "0"])
    assert [e.env for e in s.envs] == [Env.TEST, Env.DEVELOPMENT]


def test_host_with_a_key_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError, match="--host") as info:
        apply_overrides(default_scenario(), host=f"{ENDPOINT}?api_key={KEY}")
    assert KEY not in str(info.value)


def test_envs_override_keeps_weights_and_accepts_commas() -> None:
    s = load_scenario(EXAMPLES / "multi-env.toml")
    only = apply_overrides(s, envs=["production,"])
    assert only.envs == (EnvConfig(Env.PRODUCTION, 3.0, "FLOW_API_KEY_PRODUCTION"),)
    both = apply_overrides(s, envs=["Production,Test"])
    assert [e.env for e in both.envs] == [Env.PRODUCTION, Env.TEST]


@pytest.mark.parametrize("envs", [["Development"], ["Staging"], [""]])
def test_envs_override_lists_the_configured_ones(envs: list[str]) -> None:
    s = load_scenario(EXAMPLES / "multi-env.toml")
    with pytest.raises(ConfigError, match="configured: Test, Production"):
        apply_overrides(s, envs=envs)


def test_other_overrides() -> None:
    s = apply_overrides(
        default_scenario(), api_key_mode="query", stall_timeout_s=3, limit_s=30.5, insecure=True
    )
    assert (s.auth, s.stall_timeout_s, s.limit_s, s.verify_tls) == (
        AuthMode.QUERY, 3.0, 30.5, False,
    )  # fmt: skip
    assert apply_overrides(s, insecure=False).verify_tls is True
    assert apply_overrides(s) == s
    with pytest.raises(ConfigError, match="header, query"):
        apply_overrides(s, api_key_mode="cookie")
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(ConfigError, match="--limit"):
            apply_overrides(s, limit_s=bad)
        with pytest.raises(ConfigError, match="--stall-timeout"):
            apply_overrides(s, stall_timeout_s=bad)


# --- keys --------------------------------------------------------------------------------


def test_key_from_the_default_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, KEY + "\n")
    s = load_scenario(EXAMPLES / "minimal.toml")
    key = resolve_key(s, Env.TEST)
    assert key is not None
    assert key.reveal() == KEY


def test_per_env_key_wins_and_never_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_scenario(EXAMPLES / "multi-env.toml")
    monkeypatch.setenv("FLOW_API_KEY", "shared-key-000")
    monkeypatch.setenv("FLOW_API_KEY_PRODUCTION", KEY)
    monkeypatch.delenv("FLOW_API_KEY_TEST", raising=False)
    prod = resolve_key(s, Env.PRODUCTION)
    assert prod is not None
    assert prod.reveal() == KEY
    with pytest.raises(ConfigError, match="FLOW_API_KEY_TEST is not set") as info:
        resolve_key(s, Env.TEST)
    assert "env Test" in str(info.value)
    shared = resolve_key(s, Env.DEVELOPMENT)  # not in the run: the target's key
    assert shared is not None
    assert shared.reveal() == "shared-key-000"


def test_empty_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, "  ")
    s = load_scenario(EXAMPLES / "minimal.toml")
    with pytest.raises(ConfigError, match=f"{DEFAULT_API_KEY_ENV} is empty"):
        resolve_key(s, Env.TEST)


def test_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(f"  {KEY}  \nsecond line ignored\n")
    s = load_scenario(write(tmp_path, BASE + 'api_key_file = "key"\n'))
    key = resolve_key(s, Env.PRODUCTION)
    assert key is not None
    assert key.reveal() == KEY


@pytest.mark.parametrize("content", [None, "", "\n\n", "   \n" + KEY])
def test_missing_or_empty_key_file(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "key").write_text(content)
    s = load_scenario(write(tmp_path, BASE + 'api_key_file = "key"\n'))
    with pytest.raises(ConfigError, match="api_key_file") as info:
        resolve_key(s, Env.TEST)
    assert str(tmp_path / "key") in str(info.value)
    assert KEY not in str(info.value)


def test_an_invalid_key_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, f"{KEY} {KEY}")
    s = load_scenario(EXAMPLES / "minimal.toml")
    with pytest.raises(ConfigError, match=f"environment variable {DEFAULT_API_KEY_ENV}") as info:
        resolve_key(s, Env.TEST)
    assert KEY not in str(info.value)
    assert "whitespace" in str(info.value)


def test_the_simulator_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_API_KEY_ENV, raising=False)
    assert resolve_key(default_scenario(), Env.TEST) is None
    with pytest.raises(ConfigError, match=f"{DEFAULT_API_KEY_ENV} is not set"):
        resolve_key(load_scenario(EXAMPLES / "minimal.toml"), Env.TEST)
    monkeypatch.setenv(DEFAULT_API_KEY_ENV, KEY)
    key = resolve_key(default_scenario(), Env.TEST)
    assert key is not None
    assert key.reveal() == KEY


# --- records check themselves ------------------------------------------------------------


def test_records_validate_on_construction() -> None:
    with pytest.raises(ConfigError, match="weight"):
        EnvConfig(Env.TEST, weight=0)
    with pytest.raises(ConfigError, match="GET"):
        FlowConfig("a", "a", method="GET", body=JsonBody(1))
    with pytest.raises(ConfigError, match="non-empty name and id"):
        FlowConfig("", "1")
    with pytest.raises(ConfigError, match="unique"):
        Scenario(flows=(FlowConfig("a", "1"), FlowConfig("a", "2")))
    with pytest.raises(ConfigError, match="once"):
        Scenario(envs=(EnvConfig(Env.TEST), EnvConfig(Env.TEST)))
    with pytest.raises(ConfigError, match="at least one env"):
        Scenario(envs=())
    with pytest.raises(ConfigError, match="limit_s"):
        Scenario(limit_s=math.inf)
    flow = FlowConfig("a", "1", headers={"X": "y"})
    with pytest.raises(TypeError):
        flow.headers["X"] = "z"  # type: ignore[index]
