"""Tests of harness.gates.junit: the junit.xml shape CI servers read, counts and messages.

:func:`check_junit_shape` encodes the structure of the JUnit schema CI servers read (Jenkins'
junit-10.xsd, the Ant XSD GitLab and GitHub reporters follow): element nesting, required
attributes and their types, and counts that agree with the testcases. The e2e tests reuse it.
"""

from __future__ import annotations

import re

# Parsing our own output in a test: nothing untrusted is read.
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.gates import FAILED, INCONCLUSIVE, PASSED, Verdict, junit_xml, write_junit

STATUSES = [PASSED, FAILED, INCONCLUSIVE]
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_SUITE_CHILDREN = {"properties", "testcase", "system-out", "system-err"}
_CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}


def _int_attr(element: ET.Element, name: str) -> int:
    value = element.get(name)
    assert value is not None, f"{element.tag} needs {name}"
    assert value.isdigit(), f"{element.tag}@{name}={value!r}"
    return int(value)


def _check_testcase(case: ET.Element) -> str:
    assert case.get("name"), "testcase needs a name"
    assert case.get("classname"), "testcase needs a classname"
    assert _DECIMAL.fullmatch(case.get("time", "")), case.get("time")
    tags = [child.tag for child in case]
    assert set(tags) <= _CASE_CHILDREN, tags
    problems = [child for child in case if child.tag in {"failure", "error", "skipped"}]
    assert len(problems) <= 1, "one outcome per testcase"
    for child in problems:
        if child.tag != "skipped":
            assert child.get("message"), f"{child.tag} needs a message"
            assert child.get("type"), f"{child.tag} needs a type"
    return problems[0].tag if problems else "passed"


def check_junit_shape(text: str) -> ET.Element:
    """Assert ``text`` is a junit.xml CI servers read; return the ``testsuite`` element."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text)  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    suites = list(root)
    assert [s.tag for s in suites] == ["testsuite"]
    suite = suites[0]
    assert suite.get("name")
    assert _TIMESTAMP.fullmatch(suite.get("timestamp", "")), suite.get("timestamp")
    assert _DECIMAL.fullmatch(suite.get("time", "")), suite.get("time")
    assert {child.tag for child in suite} <= _SUITE_CHILDREN
    order = [child.tag for child in suite if child.tag != "system-out"]
    assert order == sorted(order, key=lambda tag: tag != "properties"), "properties come first"
    for prop in suite.iter("property"):
        assert prop.get("name")
        assert prop.get("value") is not None
    outcomes = [_check_testcase(case) for case in suite.iter("testcase")]
    for element in (root, suite):
        assert _int_attr(element, "tests") == len(outcomes)
        assert _int_attr(element, "failures") == outcomes.count("failure")
        assert _int_attr(element, "errors") == outcomes.count("error")
        assert _int_attr(element, "skipped") == outcomes.count("skipped")
    return suite


def verdict(
    status: str, label: str = "Production: ttfi.p95 < 800ms", message: str = "m"
) -> Verdict:
    env, _, expr = label.rpartition(": ")
    return Verdict(
        expr=expr,
        env=env or None,
        flow=None,
        observed=912.5,
        threshold=800.0,
        status=status,
        message=message,
        unit="ms",
        label=label,
    )


SUMMARY = {"run": {"started": "2026-11-25T03:00:00.250Z", "duration_s": 61.5, "host": "h"}}


def test_one_testcase_per_gate_with_counts() -> None:
    verdicts = [
        verdict(PASSED, "error_rate < 1%", "error_rate = 0% (< 1%)"),
        verdict(FAILED, message="ttfi.p95 = 912.5 ms, expected < 800 ms"),
        verdict(INCONCLUSIVE, "Test: itl.p99 < 250ms", "no streams for Test in this run"),
    ]
    suite = check_junit_shape(junit_xml(verdicts, SUMMARY))
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == [v.label for v in verdicts]
    assert cases[0].find("failure") is None
    assert cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "ttfi.p95 = 912.5 ms, expected < 800 ms"
    assert failure.get("type") == "GateFailed"
    assert "observed: 912.5 ms" in (failure.text or "")
    assert "threshold: 800.0 ms" in (failure.text or "")
    error = cases[2].find("error")
    assert error is not None
    assert error.get("type") == "GateInconclusive"
    assert cases[1].get("classname") == "flowload.gates.Production"
    assert cases[0].get("classname") == "flowload.gates.all"
    assert suite.get("timestamp") == "2026-11-25T03:00:00"
    assert suite.get("time") == "61.500"


def test_no_gates_is_an_empty_valid_suite() -> None:
    suite = check_junit_shape(junit_xml([], None))
    assert suite.get("tests") == "0"


def test_text_is_escaped_and_control_characters_replaced() -> None:
    nasty = 'a < b & "c" \x01 \u2713 ]]>'
    suite = check_junit_shape(junit_xml([verdict(FAILED, message=nasty)], SUMMARY))
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'a < b & "c" ? \u2713 ]]>'


def test_the_gate_that_stopped_the_run_says_so() -> None:
    stopped = Verdict("e", None, None, 1.0, 0.0, FAILED, "m", "ms", "e", stopped_run=True)
    suite = check_junit_shape(junit_xml([stopped], SUMMARY))
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "stopped the run" in (failure.get("message") or "")


def test_write_junit_is_atomic(tmp_path: Path) -> None:
    path = write_junit(tmp_path, [verdict(PASSED)], SUMMARY)
    assert path == tmp_path / "junit.xml"
    check_junit_shape(path.read_text(encoding="utf-8"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]


def test_the_shape_check_can_fail() -> None:
    good = junit_xml([verdict(FAILED)], SUMMARY)
    with pytest.raises(AssertionError):
        check_junit_shape(good.replace('failures="1"', 'failures="0"', 1))
    with pytest.raises(AssertionError):
        check_junit_shape(good.replace('type="GateFailed"', ""))


@given(st.text(max_size=80), st.text(min_size=1, max_size=40), st.sampled_from(STATUSES))
@settings(max_examples=200, deadline=None)
def test_any_text_gives_valid_junit(message: str, label: str, status: str) -> None:
    suite = check_junit_shape(junit_xml([verdict(status, label, message)], SUMMARY))
    case = suite.find("testcase")
    assert case is not None
    # Everything comes back, except characters XML cannot carry (written as "?").
    expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "?", label)
    assert case.get("name") == expected
