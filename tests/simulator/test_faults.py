"""The fault grammar and random fault picking."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.simulator.faults import (
    DEFAULT_OVERSIZED_BYTES,
    Fault,
    FaultKind,
    FaultMix,
    parse_fault,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("status:503", Fault(FaultKind.STATUS, status=503)),
        ("status", Fault(FaultKind.STATUS, status=500)),
        ("reset", Fault(FaultKind.RESET, index=1)),
        ("reset:after=3", Fault(FaultKind.RESET, index=3)),
        ("truncate:after=2", Fault(FaultKind.TRUNCATE, index=2)),
        ("malformed", Fault(FaultKind.MALFORMED, index=0)),
        ("malformed:at=4", Fault(FaultKind.MALFORMED, index=4)),
        ("stall:2.5", Fault(FaultKind.STALL, index=1, seconds=2.5)),
        ("stall:2.5:after=0", Fault(FaultKind.STALL, index=0, seconds=2.5)),
        ("stall:seconds=1:after=2", Fault(FaultKind.STALL, index=2, seconds=1.0)),
        ("trickle", Fault(FaultKind.TRICKLE, seconds=0.001)),
        ("trickle:byte_ms=5", Fault(FaultKind.TRICKLE, seconds=0.005)),
        ("oversized", Fault(FaultKind.OVERSIZED, size=DEFAULT_OVERSIZED_BYTES)),
        ("oversized:bytes=100:at=2", Fault(FaultKind.OVERSIZED, index=2, size=100)),
        ("over_limit", Fault(FaultKind.OVER_LIMIT, seconds=1.0)),
        ("over_limit:by=0.5", Fault(FaultKind.OVER_LIMIT, seconds=0.5)),
        (" RESET : after=1 ", Fault(FaultKind.RESET, index=1)),
    ],
)
def test_parse(spec: str, expected: Fault) -> None:
    got = parse_fault(spec)
    assert (got.kind, got.index, got.seconds, got.status, got.size) == (
        expected.kind, expected.index, expected.seconds, expected.status, expected.size,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "use one of status, reset"),
        ("status:200", "400..599"),
        ("status:abc", "must be a int"),
        ("reset:at=1", "unknown argument 'at'"),
        ("reset:3", "unexpected argument"),
        ("stall", "how long"),
        ("stall:-1", ">= 0"),
        ("malformed:at=x", "must be a int"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fault(spec)


def test_outcome_words() -> None:
    assert parse_fault("truncate").outcome == "truncated"
    assert parse_fault("status:502").outcome == "http_error"
    assert parse_fault("stall:1").outcome == "stalled"


@given(st.sampled_from(list(FaultKind)), st.integers(0, 10_000), st.floats(0, 1e4))
def test_any_wellformed_spec_parses_to_its_kind(kind: FaultKind, n: int, x: float) -> None:
    args = {
        FaultKind.STATUS: f":{400 + n % 200}",
        FaultKind.RESET: f":after={n}",
        FaultKind.TRUNCATE: f":after={n}",
        FaultKind.MALFORMED: f":at={n}",
        FaultKind.STALL: f":{x}:after={n}",
        FaultKind.TRICKLE: f":byte_ms={x}",
        FaultKind.OVERSIZED: f":bytes={n}:at={n}",
        FaultKind.OVER_LIMIT: f":by={x}",
    }
    fault = parse_fault(kind.value + args[kind])
    assert fault.kind is kind
    assert fault.spec == kind.value + args[kind]


def test_mix_rate_is_respected_and_seeded() -> None:
    mix = FaultMix.from_weights(0.2, {"reset": 1, "status:503": 3})
    picks = [mix.pick(random.Random(i)) for i in range(5000)]
    faulted = [p for p in picks if p is not None]
    assert 0.17 < len(faulted) / 5000 < 0.23
    share_503 = sum(p.kind is FaultKind.STATUS for p in faulted) / len(faulted)
    assert 0.68 < share_503 < 0.82
    again = [mix.pick(random.Random(i)) for i in range(5000)]
    assert picks == again


def test_mix_rate_zero_never_faults_and_bad_rate_is_refused() -> None:
    mix = FaultMix.from_weights(0.0, {})
    assert all(mix.pick(random.Random(i)) is None for i in range(200))
    assert len(mix.faults) > 3  # every default kind is available for a rate set later
    with pytest.raises(ConfigError, match=r"0\.02"):
        FaultMix(rate=2.0)
