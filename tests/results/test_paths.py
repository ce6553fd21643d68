"""Tests of harness.results.paths: the default report directory name and preparing the directory."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.results.paths import STREAMS_FILE, SUMMARY_FILE, default_report_dir, prepare_report_dir

NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


def test_default_name_is_utc_stamp_and_six_hex() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    path = default_report_dir(Path("out"), now=moment)
    assert path.parent == Path("out")
    assert NAME.match(path.name)
    assert path.name.startswith("20260102-030405-")


def test_default_base_is_reports_and_the_stamp_is_now() -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    path = default_report_dir()
    after = dt.datetime.now(dt.UTC)
    assert path.parent == Path("reports")
    assert NAME.match(path.name)
    stamp = dt.datetime.strptime(path.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
    assert before <= stamp <= after


def test_default_names_are_unique_and_not_created(tmp_path: Path) -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    names = {default_report_dir(tmp_path, now=moment).name for _ in range(50)}
    # 24 random bits: 50 draws collide with probability ~1e-4; a constant suffix fails at once.
    assert len(names) >= 49
    assert list(tmp_path.iterdir()) == []


def test_prepare_creates_parents_and_accepts_an_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "run"
    assert prepare_report_dir(target) == target
    assert target.is_dir()
    (target / SUMMARY_FILE).write_text("{}")
    assert prepare_report_dir(target) == target  # again: fine, contents kept
    assert (target / SUMMARY_FILE).read_text() == "{}"


def test_prepare_refuses_a_file(tmp_path: Path) -> None:
    file = tmp_path / "taken"
    file.write_text("x")
    with pytest.raises(ConfigError) as caught:
        prepare_report_dir(file)
    message = str(caught.value)
    assert "--report-dir" in message
    assert str(file) in message
    assert "not a directory" in message
    assert file.read_text() == "x"


def test_prepare_under_a_file_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "taken"
    file.write_text("x")
    with pytest.raises(ConfigError, match="cannot create --report-dir"):
        prepare_report_dir(file / "run")


def test_file_names_are_the_contracts() -> None:
    assert SUMMARY_FILE == "summary.json"
    assert STREAMS_FILE == "streams.jsonl"
