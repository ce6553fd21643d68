import math

import pytest

from harness.results.stream import OUTCOMES, Outcome, StreamResult


def _result(**kw: object) -> StreamResult:
    base: dict[str, object] = {
        "env": "Production",
        "flow": "orders",
        "outcome": Outcome.OK,
        "started_at": 1_700_000_000.0,
        "duration_s": 1.5,
        "limit_s": 300.0,
    }
    base.update(kw)
    return StreamResult(**base)  # type: ignore[arg-type]


def test_outcomes_are_the_design_contract() -> None:
    assert [o.value for o in OUTCOMES] == [
        "ok",
        "http_error",
        "connect_error",
        "timeout",
        "truncated",
        "malformed",
        "protocol_error",
        "stalled",
        "limit_exceeded",
    ]


def test_limit_used_is_duration_over_limit() -> None:
    assert math.isclose(_result(duration_s=150.0).limit_used, 0.5)


def test_record_is_in_milliseconds_with_gap_summary() -> None:
    rec = _result(ttfb_s=0.01, ttfi_s=0.2, gaps_s=(0.1, 0.3, 0.2), items=4).to_record("w1")
    assert rec["ttfi_ms"] == 200.0
    assert rec["itl_p50_ms"] == 200.0
    assert rec["itl_max_ms"] == 300.0
    assert rec["duration_ms"] == 1500.0
    assert rec["worker"] == "w1"
    assert rec["outcome"] == "ok"


def test_empty_stream_has_no_ttfi_or_gaps() -> None:
    rec = _result().to_record()
    assert rec["ttfi_ms"] is None
    assert rec["itl_p50_ms"] is None


@pytest.mark.parametrize(
    ("field", "value"), [("duration_s", -1.0), ("limit_s", 0.0), ("items", -1), ("bytes", -5)]
)
def test_invalid_values_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        _result(**{field: value})


def test_outcome_must_be_the_enum() -> None:
    with pytest.raises(TypeError):
        _result(outcome="ok")
