"""harness.report.render.fmt: numbers for people, and a dash for anything missing."""

from __future__ import annotations

import math

import pytest

from harness.report.render import fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5 ms"), (99.94, "99.9 ms"), (100, "100 ms"), (9999.4, "9999 ms"),
     (12_345.0, "12.3 s"), (None, "-"), (math.nan, "-"), (True, "-"), ("12", "-")],
)  # fmt: skip
def test_ms(value: object, text: str) -> None:
    assert fmt.ms(value) == text


def test_percentages_rates_counts_sizes() -> None:
    assert fmt.pct(0.1234) == "12.3%"
    assert fmt.pct(0.00012, 2) == "0.01%"
    assert fmt.signed_pct(0.3) == "+30.0%"
    assert fmt.signed_pct(-0.05) == "-5.0%"
    assert fmt.rate(1.5917) == "1.59/s"
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.size(999) == "999 B"
    assert fmt.size(93_235) == "93.2 kB"
    assert fmt.size(2.5e9) == "2.5 GB"
    assert fmt.size(7e12) == "7000.0 GB"
    assert [fmt.pct(None), fmt.rate(None), fmt.count(None), fmt.size(None)] == ["-"] * 4


def test_epoch_is_utc_with_milliseconds() -> None:
    assert fmt.epoch(1_795_576_593.4955) == "03:16:33.495"


def test_outcome_summary_lists_problems_only() -> None:
    assert fmt.outcome_summary({"ok": 5, "truncated": 2, "stalled": 0, "http_error": 1}) == (
        "truncated=2, http_error=1"
    )
    assert fmt.outcome_summary({"ok": 5, "truncated": 0}) == "-"
