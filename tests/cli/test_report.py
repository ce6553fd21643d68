"""harness.cli.report: help, success, and one-line errors with exit code 2 (never a traceback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.report import compare_main, report_main
from tests.report.run.test_fixtures import FIXTURES

REPO = Path(__file__).resolve().parents[2]


def copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(FIXTURES / "v1", target)
    return target


@pytest.mark.parametrize("main", [report_main, compare_main])
def test_help_exits_0_and_explains(main, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: flowload" in out
    assert "--out" in out
    assert "examples:" in out


def test_report_writes_into_the_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_fixture(tmp_path)
    assert report_main([str(run)]) == 0
    out = capsys.readouterr().out
    for name in ("report.html", "summary.md", "stats.csv"):
        assert (run / name).is_file()
        assert f"wrote {run / name}" in out


def test_report_out_dir(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    assert report_main([str(run), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").is_file()
    assert not (run / "report.html").exists()


def test_compare_defaults_to_the_new_dir(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    assert compare_main([str(FIXTURES / "v1"), str(run)]) == 0
    assert (run / "comparison.html").is_file()
    assert (run / "comparison.md").is_file()


def bad_dirs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_json = tmp_path / "bad"
    bad_json.mkdir()
    (bad_json / "summary.json").write_text("{oops", encoding="utf-8")
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "summary.json").write_text('{"schema": "flowload.summary/7"}', encoding="utf-8")
    return {
        "missing": (tmp_path / "missing", "is not a directory"),
        "no summary": (empty, "summary.json not found"),
        "bad json": (bad_json, "is not valid JSON"),
        "newer schema": (newer, "unknown schema 'flowload.summary/7'"),
    }


def test_report_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (directory, message) in bad_dirs(tmp_path).items():
        assert report_main([str(directory)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith("flowload report: ")
        assert message in err, name


def test_compare_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (directory, message) in bad_dirs(tmp_path).items():
        assert compare_main([str(FIXTURES / "v1"), str(directory)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert message in err, name


@pytest.mark.parametrize(
    ("main", "argv", "message"),
    [
        (report_main, [], "required: dir"),
        (report_main, ["a", "b"], "unrecognized arguments: b"),
        (compare_main, ["a"], "required: new"),
        (compare_main, ["a", "b", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_are_one_line_exit_2(  # type: ignore[no-untyped-def]
    main, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert "--help" in err


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    code = (
        "import sys; from harness.cli.report import report_main; "
        "sys.exit(report_main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("flowload report:")
