"""Tests of harness.locust_glue.options: flowload's options on Locust's real argument parser."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

from harness.errors import ConfigError
from harness.locust_glue.options import GlueOptions, add_options, read_options

FLOW_DESTS = ("flow_config", "flow_env", "report_dir", "api_key_mode", "stall_timeout", "limit",
              "insecure", "flow_spawn_spread")  # fmt: skip
ENV_VARS = (
    "LOCUST_FLOW_CONFIG", "LOCUST_FLOW_ENV", "LOCUST_REPORT_DIR", "LOCUST_API_KEY_MODE",
    "LOCUST_STALL_TIMEOUT", "LOCUST_LIMIT", "LOCUST_INSECURE", "LOCUST_FLOW_SPAWN_SPREAD",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def locust_parser() -> Any:
    """Locust's full parser (as ``get_parser`` builds it) plus ours.

    Built without firing ``init_command_line_parser``: a locustfile imported by another test may
    have registered ``add_options`` there already, and adding the options twice is an error.
    No config files either, so a ``locust.conf`` around the test run cannot change the result.
    """
    parser = get_empty_argument_parser(add_help=True, default_config_files=[])
    setup_parser_arguments(parser)  # type: ignore[no-untyped-call]
    add_options(parser)
    return parser


def test_defaults_mean_the_scenario_decides() -> None:
    parsed = locust_parser().parse_args([])
    assert read_options(parsed) == GlueOptions(
        flow_config=None,
        flow_env=None,
        report_dir=None,
        api_key_mode=None,
        stall_timeout_s=None,
        limit_s=None,
        insecure=False,
    )


def test_options_are_parsed_from_argv(tmp_path: Path) -> None:
    argv = [
        "--flow-config", str(tmp_path / "s.toml"), "--flow-env", "Production,Test",
        "--report-dir", str(tmp_path / "out"), "--api-key-mode", "query",
        "--stall-timeout", "7.5", "--limit", "120", "--insecure", "--headless", "-u", "3",
    ]  # fmt: skip
    parsed = locust_parser().parse_args(argv)
    assert parsed.num_users == 3  # Locust's own options still work next to ours
    assert read_options(parsed) == GlueOptions(
        flow_config=tmp_path / "s.toml",
        flow_env=["Production", "Test"],
        report_dir=tmp_path / "out",
        api_key_mode="query",
        stall_timeout_s=7.5,
        limit_s=120.0,
        insecure=True,
    )


def test_options_are_parsed_from_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_FLOW_CONFIG", "from-env.toml")
    monkeypatch.setenv("LOCUST_FLOW_ENV", "Development")
    monkeypatch.setenv("LOCUST_REPORT_DIR", "env-reports")
    monkeypatch.setenv("LOCUST_API_KEY_MODE", "header")
    monkeypatch.setenv("LOCUST_STALL_TIMEOUT", "30")
    monkeypatch.setenv("LOCUST_LIMIT", "250")
    monkeypatch.setenv("LOCUST_INSECURE", "true")
    options = read_options(locust_parser().parse_args([]))
    assert options == GlueOptions(
        flow_config=Path("from-env.toml"),
        flow_env=["Development"],
        report_dir=Path("env-reports"),
        api_key_mode="header",
        stall_timeout_s=30.0,
        limit_s=250.0,
        insecure=True,
    )


def test_argv_wins_over_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_FLOW_ENV", "Development")
    monkeypatch.setenv("LOCUST_LIMIT", "250")
    parsed = locust_parser().parse_args(["--flow-env", "Test", "--limit", "60"])
    options = read_options(parsed)
    assert options.flow_env == ["Test"]
    assert options.limit_s == 60.0


def test_unknown_api_key_mode_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        locust_parser().parse_args(["--api-key-mode", "cookie"])
    assert caught.value.code == 2
    assert "header" in capsys.readouterr().err


def test_web_ui_shows_only_the_per_test_options() -> None:
    shown = set(locust_parser().args_included_in_web_ui) & set(FLOW_DESTS)
    # Files and TLS are process-wide: they cannot change between tests started from the UI.
    assert shown == {"flow_env", "api_key_mode", "stall_timeout", "limit", "flow_spawn_spread"}


def test_read_options_takes_web_ui_text_values() -> None:
    parsed = SimpleNamespace(
        flow_config="", flow_env="Production, Test", report_dir="", api_key_mode="",
        stall_timeout="60", limit="300.5", insecure=False,
    )  # fmt: skip
    options = read_options(parsed)
    assert options.stall_timeout_s == 60.0
    assert options.limit_s == 300.5
    assert options.flow_config is None
    assert options.report_dir is None
    assert options.api_key_mode is None
    assert [e.strip() for e in options.flow_env or []] == ["Production", "Test"]


def test_read_options_drops_empty_env_entries() -> None:
    options = read_options(SimpleNamespace(flow_env="Test,,  ,Production,"))
    assert [e.strip() for e in options.flow_env or []] == ["Test", "Production"]


@pytest.mark.parametrize("parsed", [None, SimpleNamespace(), SimpleNamespace(limit=None)])
def test_read_options_without_values(parsed: Any) -> None:
    options = read_options(parsed)
    assert options.limit_s is None
    assert options.stall_timeout_s is None
    assert options.flow_env is None
    assert options.insecure is False


@pytest.mark.parametrize(
    ("name", "option"), [("stall_timeout", "--stall-timeout"), ("limit", "--limit")]
)
@pytest.mark.parametrize("bad", ["sixty", "60s", [60]])
def test_bad_numbers_are_config_errors_naming_the_option(name: str, option: str, bad: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options(SimpleNamespace(**{name: bad}))
    message = str(caught.value)
    assert message.startswith(f"{option} must be a number of seconds")
    assert repr(bad) in message


def test_bad_number_from_argv_is_a_config_error() -> None:
    parsed = locust_parser().parse_args(["--limit", "five minutes"])
    with pytest.raises(ConfigError, match="--limit must be a number of seconds"):
        read_options(parsed)


def test_ca_bundle_from_argv_or_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCUST_CA_BUNDLE", raising=False)
    assert read_options(locust_parser().parse_args([])).ca_bundle is None
    parsed = locust_parser().parse_args(["--ca-bundle", str(tmp_path / "ca.pem")])
    assert read_options(parsed).ca_bundle == tmp_path / "ca.pem"
    monkeypatch.setenv("LOCUST_CA_BUNDLE", "corp-ca.pem")
    assert read_options(locust_parser().parse_args([])).ca_bundle == Path("corp-ca.pem")


def test_spawn_spread_defaults_to_one_second() -> None:
    assert read_options(locust_parser().parse_args([])).spawn_spread_s == 1.0
    assert read_options(None).spawn_spread_s == 1.0


def test_spawn_spread_from_argv_env_var_and_web_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = locust_parser().parse_args(["--flow-spawn-spread", "0"])
    assert read_options(parsed).spawn_spread_s == 0.0
    monkeypatch.setenv("LOCUST_FLOW_SPAWN_SPREAD", "2.5")
    assert read_options(locust_parser().parse_args([])).spawn_spread_s == 2.5
    assert read_options(SimpleNamespace(flow_spawn_spread="0.5")).spawn_spread_s == 0.5
    assert read_options(SimpleNamespace(flow_spawn_spread="")).spawn_spread_s == 1.0


@pytest.mark.parametrize("bad", ["-1", "soon", "1e9", "nan"])
def test_bad_spawn_spread_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--flow-spawn-spread must be") as caught:
        read_options(SimpleNamespace(flow_spawn_spread=bad))
    assert repr(bad) in str(caught.value)
