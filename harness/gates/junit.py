"""``junit.xml``: one testcase per gate, in the shape CI servers read (Jenkins, GitLab, GitHub).

``testsuites`` > ``testsuite`` (name, tests, failures, errors, skipped, time, timestamp) >
``testcase`` (classname, name, time) with a ``failure`` (message, type) for a failed gate and an
``error`` (message, type) for an inconclusive one: an untrustworthy run must not look green.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket

# ElementTree only *writes* XML here; nothing untrusted is parsed.
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import FlowloadError
from harness.gates.evaluate import FAILED, INCONCLUSIVE, Verdict
from harness.results import write_atomic

__all__ = ["JUNIT_FILE", "JunitError", "junit_xml", "write_junit"]

JUNIT_FILE = "junit.xml"
SUITE_NAME = "flowload gates"
# Characters XML 1.0 cannot carry at all (even escaped).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JunitError(FlowloadError):
    """junit.xml cannot be written."""


def _clean(text: str) -> str:
    return _NOT_XML.sub("?", text)


def _timestamp(summary: Mapping[str, Any] | None) -> str:
    """ISO-8601 without zone (the JUnit schema's pattern), from the run's start."""
    started = ((summary or {}).get("run") or {}).get("started")
    moment = dt.datetime.now(dt.UTC)
    if isinstance(started, str):
        # A malformed start time is not worth failing the CI output over: keep "now".
        with contextlib.suppress(ValueError):
            moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _classname(verdict: Verdict) -> str:
    parts = ["flowload", "gates", verdict.env or "all"]
    if verdict.flow is not None:
        parts.append(verdict.flow)
    return _clean(".".join(parts))


def _detail(verdict: Verdict) -> str:
    return (
        f"gate: {verdict.label}\nstatus: {verdict.status}\n"
        f"observed: {verdict.observed} {verdict.unit}\n"
        f"threshold: {verdict.threshold} {verdict.unit}\n{verdict.message}\n"
    )


def _testcase(suite: ET.Element, verdict: Verdict) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": _classname(verdict), "name": _clean(verdict.label), "time": "0"},
    )
    if verdict.status == FAILED:
        tag, kind = "failure", "GateFailed"
    elif verdict.status == INCONCLUSIVE:
        tag, kind = "error", "GateInconclusive"
    else:
        ET.SubElement(case, "system-out").text = _clean(verdict.message)
        return
    message = verdict.message or f"{verdict.status}: {verdict.label}"  # readers need a message
    message += " (this gate stopped the run)" if verdict.stopped_run else ""
    element = ET.SubElement(case, tag, {"message": _clean(message), "type": kind})
    element.text = _clean(_detail(verdict))


def junit_xml(verdicts: Sequence[Verdict], summary: Mapping[str, Any] | None = None) -> str:
    """The junit.xml document for ``verdicts`` (``summary`` supplies the run's time and host)."""
    run = (summary or {}).get("run") or {}
    duration = run.get("duration_s")
    elapsed = f"{float(duration):.3f}" if isinstance(duration, int | float) else "0"
    counts = {
        "tests": str(len(verdicts)),
        "failures": str(sum(v.status == FAILED for v in verdicts)),
        "errors": str(sum(v.status == INCONCLUSIVE for v in verdicts)),
        "skipped": "0",
        "time": elapsed,
    }
    root = ET.Element("testsuites", {"name": "flowload", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE_NAME,
            **counts,
            "timestamp": _timestamp(summary),
            "hostname": _clean(socket.gethostname() or "localhost"),
        },
    )
    shown = [key for key in ("host", "users", "workers", "duration_s") if run.get(key) is not None]
    if shown:  # some readers require at least one property inside <properties>
        properties = ET.SubElement(suite, "properties")
        for key in shown:
            ET.SubElement(properties, "property", {"name": key, "value": _clean(str(run[key]))})
    for verdict in verdicts:
        _testcase(suite, verdict)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(
    directory: Path, verdicts: Sequence[Verdict], summary: Mapping[str, Any] | None = None
) -> Path:
    """Write ``directory/junit.xml`` atomically; return its path."""
    return write_atomic(directory / JUNIT_FILE, junit_xml(verdicts, summary), error=JunitError)
