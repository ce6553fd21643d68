"""Profiles and distributions: TOML validation, the built-in profile, seeded clamped draws."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.simulator.distributions import Distribution, parse_distribution
from harness.simulator.profiles import (
    ENV_NAMES,
    default_profile,
    load_profile,
    parse_env,
    profile_from_dict,
)


def test_default_profile_is_realistic_and_generous() -> None:
    p = default_profile()
    assert 3 <= len(p.flows) <= 5
    names = {f.name for f in p.flows.values()}
    assert {"orders-export", "chat-answer", "report-build"} <= names
    assert p.envs["Development"].speed > p.envs["Test"].speed > p.envs["Production"].speed
    assert all(e.slots >= 100 for e in p.envs.values())
    assert p.open_auth
    for f in p.flows.values():
        assert len(f.id) == 36
        rng = random.Random(1)
        for _ in range(200):
            assert 100 <= f.ttfi_ms.sample(rng) <= 800
            assert 20 <= f.gap_ms.sample(rng) <= 200
            assert 5 <= f.items.sample(rng) <= 50
            assert 50 <= f.item_bytes.sample(rng) <= 5000


@pytest.mark.parametrize(
    ("text", "name"),
    [("Development", "Development"), ("test", "Test"), ("0", "Development"), ("2", "Production"),
     ("3", None), ("", None), ("Prod", None), (" 1", None)],
)  # fmt: skip
def test_parse_env(text: str, name: str | None) -> None:
    assert parse_env(text) == name


def test_profile_file_round_trip(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_text(
        'seed = 5\nlimit_s = 10\nfault_rate = 0.1\ntenants = ["acme"]\n'
        '[faults]\n"reset:after=2" = 1\n'
        '[envs.2]\nslots = 3\nqueue = 0\nreject_status = 503\napi_keys = ["k1"]\n'
        '[[flows]]\nid = "f1"\nformat = "sse"\nitems = { dist = "normal", mean = 5, stddev = 1 }\n'
        'fault = "stall:1"\n',
        encoding="utf-8",
    )
    p = load_profile(file)
    assert (p.seed, p.limit_s, p.tenants) == (5, 10.0, frozenset({"acme"}))
    assert p.faults.rate == 0.1
    assert p.faults.faults[0].spec == "reset:after=2"
    prod = p.envs["Production"]
    assert (prod.slots, prod.queue, prod.reject_status, prod.api_keys) == (
        3,
        0,
        503,
        frozenset({"k1"}),
    )
    assert "k1" not in repr(prod)
    assert p.envs["Development"].slots == 200
    flow = p.flows["f1"]
    assert (flow.name, flow.format, flow.fault and flow.fault.spec) == ("f1", "sse", "stall:1")
    assert not p.open_auth


def test_api_key_env_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_KEY_T", "secret-t")
    p = profile_from_dict({"envs": {"Test": {"api_key_env": "SIM_KEY_T"}}, "flows": [{"id": "f"}]})
    assert p.envs["Test"].api_keys == frozenset({"secret-t"})
    monkeypatch.delenv("SIM_KEY_T")
    with pytest.raises(ConfigError, match="SIM_KEY_T"):
        profile_from_dict({"envs": {"Test": {"api_key_env": "SIM_KEY_T"}}, "flows": [{"id": "f"}]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"flows": []}, "at least one"),
        ({"flows": [{"id": "a"}, {"id": "a"}]}, "repeats the id"),
        ({"flows": [{"name": "x"}]}, "needs an id"),
        ({"flows": [{"id": "a", "colour": 1}]}, "unknown keys \\['colour'\\]"),
        ({"flows": [{"id": "a", "format": "xml"}]}, "json, ndjson, sse"),
        ({"flows": [{"id": "a", "items": {"dist": "poisson"}}]}, "constant, uniform"),
        ({"flows": [{"id": "a", "items": {"dist": "uniform", "low": 1}}]}, "needs \\['high'\\]"),
        ({"flows": [{"id": "a", "items": "many"}]}, "must be a number"),
        ({"flows": [{"id": "a"}], "envs": {"Staging": {}}}, "is not an env"),
        ({"flows": [{"id": "a"}], "envs": {"Test": {"slots": 0}}}, "slots >= 1"),
        ({"flows": [{"id": "a"}], "envs": {"Test": {"reject_status": 500}}}, "429 or 503"),
        ({"flows": [{"id": "a"}], "envs": {"Test": {"speed": "x"}}}, "speed must be a float"),
        ({"flows": [{"id": "a"}], "wat": 1}, "unknown keys \\['wat'\\]"),
        ({"flows": [{"id": "a"}], "faults": {"boom": 1}}, "unknown fault"),
    ],
)
def test_bad_profiles_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        profile_from_dict(raw, "x.toml")


def test_bad_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("flows = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile(bad)


dists = st.one_of(
    st.builds(lambda v: {"dist": "constant", "value": v}, st.floats(0, 1e6)),
    st.builds(lambda a, w: {"dist": "uniform", "low": a, "high": a + w},
              st.floats(0, 1e6), st.floats(0, 1e6)),
    st.builds(lambda m, s: {"dist": "normal", "mean": m, "stddev": s},
              st.floats(-1e3, 1e6), st.floats(0, 1e4)),
    st.builds(lambda m, s: {"dist": "lognormal", "median": m, "sigma": s},
              st.floats(1e-3, 1e6), st.floats(0, 3)),
)  # fmt: skip


@given(dists, st.floats(0, 100), st.floats(0, 1e6), st.integers(0, 2**32))
def test_draws_are_clamped_and_seeded(
    raw: dict[str, object], lo: float, span: float, seed: int
) -> None:
    d = parse_distribution("t", {**raw, "min": lo, "max": lo + span})
    a = [d.sample(random.Random(seed)) for _ in range(3)]
    b = [d.sample(random.Random(seed)) for _ in range(3)]
    assert a == b
    assert all(lo <= x <= lo + span and math.isfinite(x) for x in a)


def test_distribution_shapes() -> None:
    rng = random.Random(3)
    normal = parse_distribution("t", {"dist": "normal", "mean": 100, "stddev": 10})
    xs = [normal.sample(rng) for _ in range(4000)]
    assert 99 < sum(xs) / len(xs) < 101
    logn = parse_distribution("t", {"dist": "lognormal", "median": 50, "sigma": 0.5})
    ys = sorted(logn.sample(rng) for _ in range(4001))
    assert 47 < ys[2000] < 53
    assert parse_distribution("t", 7).sample(rng) == 7
    assert Distribution("uniform", 1, 3).describe() == "uniform(1, 3)"
    with pytest.raises(ConfigError, match="low <= high"):
        Distribution("uniform", 3, 1)


def test_env_names_are_the_three_documented() -> None:
    assert ENV_NAMES == ("Development", "Test", "Production")
