"""harness.run.request_mix: weighted picking, shares, labels, key placement, simulator flows."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import FlowConfig, Scenario, loads_scenario
from harness.errors import ConfigError
from harness.flow_api import Env, FlowTarget
from harness.reader import ItemFormat, ItemReader
from harness.run.request_mix import StreamPlan, StreamTarget, build_plan, simulator_flows
from harness.secrets import ApiKey
from harness.simulator import default_profile
from harness.transport import HttpRequest

KEY = "k3y-Secret-0123456789"
TARGET = FlowTarget("https://flow.example.com/base", "acme", "sales")
SCENARIO_TOML = """
[target]
url = "https://flow.example.com/base"
tenant = "acme"
workspace = "sales"
auth = "{auth}"

[[envs]]
name = "Production"
weight = 2

[[envs]]
name = "Test"
weight = 1

[[flows]]
name = "orders"
id = "f-orders"
weight = 3
json = {{ customer = 42 }}

[[flows]]
name = "chat"
id = "f-chat"
weight = 1
"""


def scenario(auth: str = "header") -> Scenario:
    return loads_scenario(SCENARIO_TOML.format(auth=auth))


def keys_for(s: Scenario) -> dict[Env, ApiKey | None]:
    return {e.env: ApiKey(KEY) for e in s.envs}


def plain_target(weight: float, name: str = "f") -> StreamTarget:
    request = HttpRequest("POST", "http://127.0.0.1:9/x")
    return StreamTarget(Env.TEST, FlowConfig(name=name, id=name), request, weight)


class FixedRandom(random.Random):
    """A Random whose ``random()`` returns a chosen point (to test the bisect boundaries)."""

    def __init__(self, point: float) -> None:
        super().__init__(0)
        self.point = point

    def random(self) -> float:
        return self.point


def test_pick_frequencies_follow_env_times_flow_weights() -> None:
    plan = build_plan(scenario(), TARGET, keys_for(scenario()))
    expected = {
        "orders [Production]": 6 / 12,
        "chat [Production]": 2 / 12,
        "orders [Test]": 3 / 12,
        "chat [Test]": 1 / 12,
    }
    rng = random.Random(20261125)
    draws = 40_000
    counts = Counter(plan.pick(rng).label for _ in range(draws))
    assert set(counts) == set(expected)
    for label, share in expected.items():
        # Binomial sd is at most 0.0025 here: 0.01 is 4 sd, yet catches a swapped weight.
        assert counts[label] / draws == pytest.approx(share, abs=0.01), label


def test_share_is_weight_over_total_and_sums_to_one() -> None:
    plan = build_plan(scenario(), TARGET, keys_for(scenario()))
    shares = {t.label: plan.share(t) for t in plan.targets}
    assert shares["orders [Production]"] == pytest.approx(0.5)
    assert shares["chat [Test]"] == pytest.approx(1 / 12)
    assert sum(shares.values()) == pytest.approx(1.0)


@settings(max_examples=80, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=1, max_size=8),
    point=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_pick_returns_the_target_whose_interval_holds_the_point(
    weights: list[float], point: float
) -> None:
    plan = StreamPlan([plain_target(w, f"f{i}") for i, w in enumerate(weights)])
    picked = plan.pick(FixedRandom(point))
    total = sum(weights)
    index = plan.targets.index(picked)
    low = sum(weights[:index])
    # Float sums may differ in the last bits from the plan's accumulate: allow a hair.
    assert low - 1e-9 * total <= point * total <= low + weights[index] + 1e-9 * total


def test_pick_never_returns_a_target_beyond_the_last() -> None:
    plan = StreamPlan([plain_target(1.0, "a"), plain_target(3.0, "b")])
    assert plan.pick(FixedRandom(0.0)).flow.name == "a"
    assert plan.pick(FixedRandom(0.2499)).flow.name == "a"
    assert plan.pick(FixedRandom(0.25)).flow.name == "b"
    assert plan.pick(FixedRandom(0.9999999999)).flow.name == "b"


@pytest.mark.parametrize("auth", ["header", "query"])
def test_label_never_contains_url_tenant_or_key(auth: str) -> None:
    s = scenario(auth)
    for target in build_plan(s, TARGET, keys_for(s)).targets:
        assert target.label == f"{target.flow.name} [{target.env.value}]"
        for leak in (KEY, "://", "flow.example.com", "acme", target.flow.id):
            assert leak not in target.label
        assert KEY not in repr(target)


def request_texts(request: HttpRequest) -> list[str]:
    body = request.body.decode() if request.body else ""
    return [request.url, body, *(f"{n}: {v}" for n, v in request.headers)]


def test_header_auth_puts_the_key_in_the_header_only() -> None:
    s = scenario("header")
    plan = build_plan(s, TARGET, keys_for(s))
    for target in plan.targets:
        request = target.request
        assert ("x-api-key", KEY) in request.headers
        assert "api_key" not in request.url
        assert sum(text.count(KEY) for text in request_texts(request)) == 1
        assert request.url.startswith(
            f"https://flow.example.com/base/api/v1/tenants/acme/workspaces/sales/flows/"
            f"{target.flow.id}/stream?env={target.env.value}"
        )


def test_query_auth_puts_the_key_in_the_query_only() -> None:
    s = scenario("query")
    plan = build_plan(s, TARGET, keys_for(s))
    for target in plan.targets:
        request = target.request
        assert request.url.endswith(f"&api_key={KEY}")
        assert all(name.lower() != "x-api-key" for name, _ in request.headers)
        assert sum(text.count(KEY) for text in request_texts(request)) == 1


def test_body_is_encoded_once_per_target_and_method_kept() -> None:
    s = scenario()
    plan = build_plan(s, TARGET, keys_for(s))
    orders = next(t for t in plan.targets if t.flow.name == "orders")
    chat = next(t for t in plan.targets if t.flow.name == "chat")
    assert orders.request.body == b'{"customer":42}'
    assert ("Content-Type", "application/json") in orders.request.headers
    assert chat.request.body is None
    assert {t.request.method for t in plan.targets} == {"POST"}


def test_flows_argument_overrides_the_scenario_flows() -> None:
    s = scenario()
    only = (FlowConfig(name="other", id="f-other", weight=5),)
    plan = build_plan(s, TARGET, keys_for(s), only)
    assert sorted(t.label for t in plan.targets) == ["other [Production]", "other [Test]"]
    assert [t.weight for t in plan.targets] == [10.0, 5.0]


def test_missing_key_sends_no_key_at_all() -> None:
    s = scenario()
    plan = build_plan(s, TARGET, dict.fromkeys((e.env for e in s.envs), None))
    for target in plan.targets:
        assert all(name.lower() != "x-api-key" for name, _ in target.request.headers)
        assert "api_key" not in target.request.url


def test_empty_plan_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[\[flows\]\]"):
        StreamPlan([])
    s = scenario()
    with pytest.raises(ConfigError, match="no flows"):
        build_plan(s, TARGET, keys_for(s), ())


def test_new_reader_is_fresh_and_configured_from_the_flow() -> None:
    flow = FlowConfig(name="n", id="n", format=ItemFormat.NDJSON, max_item_bytes=1234)
    target = StreamTarget(Env.TEST, flow, HttpRequest("GET", "http://127.0.0.1:9/"), 1.0)
    first, second = target.new_reader(), target.new_reader()
    assert isinstance(first, ItemReader)
    assert first is not second
    assert first.format is ItemFormat.NDJSON
    items = first.feed(b'{"a":1}\n{"b":2}\n')
    assert len(items) == 2


def test_simulator_flows_of_the_default_profile() -> None:
    profile = default_profile()
    flows = simulator_flows(profile.flows)
    assert [(f.name, f.id) for f in flows] == [(p.name, p.id) for p in profile.flows.values()]
    assert len(flows) >= 3
    for flow in flows:
        assert flow.format is ItemFormat.JSON_ARRAY  # the built-in flows are all "json"
        assert flow.method == "POST"


def test_simulator_flows_maps_formats_and_falls_back_to_the_id() -> None:
    profile_flows = {
        "a": SimpleNamespace(name="a", id="id-a", format="ndjson"),
        "b": SimpleNamespace(name="b", id="id-b", format="sse"),
        "c": SimpleNamespace(name="", id="id-c", format="something-else"),
    }
    flows = simulator_flows(profile_flows)
    assert [f.format for f in flows] == [ItemFormat.NDJSON, ItemFormat.SSE, None]
    assert [f.name for f in flows] == ["a", "b", "id-c"]


def test_weighted_round_robin_is_proportional_and_interleaves_envs() -> None:
    scenario = loads_scenario(
        """
[[envs]]
name = "Production"
weight = 2
[[envs]]
name = "Test"
weight = 1
[[flows]]
name = "a"
id = "a"
[[flows]]
name = "b"
id = "b"
"""
    )
    target = FlowTarget("http://127.0.0.1:1", "t", "w")
    plan = build_plan(scenario, target, {})
    order = plan.order(600)
    counts = Counter((t.env.value, t.flow.name) for t in order)
    assert counts == {
        ("Production", "a"): 200,
        ("Production", "b"): 200,
        ("Test", "a"): 100,
        ("Test", "b"): 100,
    }
    # Any window of 6 consecutive picks has both envs.
    assert all(len({t.env for t in order[i : i + 6]}) == 2 for i in range(594))
    # Cursors walk the same order from different starts, endlessly.
    cursor = plan.cursor(5)
    picks = [cursor.next() for _ in range(len(plan.order()) + 1)]
    assert picks[0] == plan.order()[5]
    assert picks[-1] == picks[0]
