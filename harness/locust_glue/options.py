"""flowload's command-line options, added to Locust's parser.

Each is settable on the command line (``--flow-config``), as an env var (``LOCUST_FLOW_CONFIG``:
``LOCUST_`` + the option's name in capitals) and in ``locust.conf`` / ``pyproject.toml
[tool.locust]`` (Locust's config mechanism). Locust fires the parser event again
on each web UI page load, so :func:`add_options` only adds arguments and has no side effect.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.transport import TIMESTAMP_MODES

# Locust starts users in batches, one batch per second at spawn rates >= 1 user/s: without a
# spread, a batch's streams start (and, for streams of equal length, keep restarting) together.
DEFAULT_SPAWN_SPREAD_S = 1.0
MAX_SPAWN_SPREAD_S = 3600.0
# After a stream that failed before its first item, a user waits 0.5 s, 1 s, 2 s ... up to this.
DEFAULT_FAILURE_BACKOFF_S = 10.0


class _NotGiven(float):
    """Locust's ``--stop-timeout`` default (0 s), marked so that "not given" differs from 0."""

    __slots__ = ()


# Any value the user gives (command line, env var, config file) goes through Locust's own type
# and replaces this; see stop_timeout_given.
STOP_TIMEOUT_NOT_GIVEN = _NotGiven(0.0)


@dataclass(frozen=True, slots=True)
class GlueOptions:
    """The parsed flowload options (None: not given, the scenario decides)."""

    flow_config: Path | None
    flow_env: list[str] | None
    report_dir: Path | None
    api_key_mode: str | None
    stall_timeout_s: float | None
    limit_s: float | None
    insecure: bool
    capacity_quick: bool = False
    processes: int | None = None
    ca_bundle: Path | None = None
    spawn_spread_s: float = DEFAULT_SPAWN_SPREAD_S
    timestamps: str = "auto"
    proxy: str | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    fail_fast: bool = True
    failure_backoff_s: float = DEFAULT_FAILURE_BACKOFF_S


def add_options(parser: Any) -> None:
    """Add the flowload options to Locust's parser; mark ``--stop-timeout``'s default."""
    parser.set_defaults(stop_timeout=STOP_TIMEOUT_NOT_GIVEN)
    parser.add_argument(
        "--flow-config",
        metavar="FILE",
        env_var="LOCUST_FLOW_CONFIG",
        default=None,
        help="flowload scenario TOML (target, envs, flows, gates); default: bundled simulator",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--flow-env",
        metavar="LIST",
        env_var="LOCUST_FLOW_ENV",
        default=None,
        help="only these envs, comma-separated: Development,Test,Production (or 0,1,2)",
    )
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        env_var="LOCUST_REPORT_DIR",
        default=None,
        help="where summary.json and streams.jsonl go (default reports/<UTC time>-<id>/)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--api-key-mode",
        env_var="LOCUST_API_KEY_MODE",
        default=None,
        choices=["header", "query"],
        help="send the API key as the x-api-key header or the api_key query parameter",
    )
    parser.add_argument(
        "--stall-timeout",
        metavar="S",
        env_var="LOCUST_STALL_TIMEOUT",
        default=None,
        help="seconds without body bytes before a stream counts as stalled (default 60)",
    )
    parser.add_argument(
        "--limit",
        metavar="S",
        env_var="LOCUST_LIMIT",
        default=None,
        help="the server's execution limit in seconds (default 300)",
    )
    parser.add_argument(
        "--insecure",
        env_var="LOCUST_INSECURE",
        action="store_true",
        default=False,
        help="do not verify TLS certificates (prints a warning)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="FILE",
        env_var="LOCUST_CA_BUNDLE",
        default=None,
        help="PEM file of CA certificates to verify the server with (default: system CAs)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--flow-spawn-spread",
        metavar="S",
        env_var="LOCUST_FLOW_SPAWN_SPREAD",
        default=None,
        help="seconds over which each batch of new users starts its first streams, at random "
        "points (default 1: Locust starts a batch of users every second; 0: start together)",
    )
    parser.add_argument(
        "--proxy",
        env_var="LOCUST_PROXY",
        default=None,
        help="forward proxy for every target, http://[user:pass@]host:port (default: "
        "HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--client-cert",
        env_var="LOCUST_CLIENT_CERT",
        default=None,
        help="PEM client certificate for servers that require one (mTLS)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--client-key",
        env_var="LOCUST_CLIENT_KEY",
        default=None,
        help="PEM private key of --client-cert (default: in the certificate file)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--no-fail-fast",
        env_var="LOCUST_NO_FAIL_FAST",
        action="store_true",
        default=False,
        help="keep running when the first streams of an env or flow all fail the same "
        "unfixable way (wrong key, unknown flow, refused, TLS): for testing error paths",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--flow-failure-backoff",
        env_var="LOCUST_FLOW_FAILURE_BACKOFF",
        default=None,
        help="longest pause (s) of a user after streams that failed before their first item: "
        "0.5 s, doubling, with jitter; Retry-After is honoured (default 10; 0: no pause)",
    )
    parser.add_argument(
        "--timestamps",
        env_var="LOCUST_TIMESTAMPS",
        default=None,
        choices=list(TIMESTAMP_MODES),
        help="item times from the kernel's receive stamps or user-space receipt (default auto: "
        "kernel where the platform grants them)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--capacity-quick",
        env_var="LOCUST_CAPACITY_QUICK",
        action="store_true",
        default=False,
        help="capacity locustfiles: run the short plan (3-5 steps, 2.5 minutes)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--flow-processes",
        default=None,
        help=argparse.SUPPRESS,  # set by the master for its workers: arrival-rate share
        include_in_web_ui=False,
    )


def stop_timeout_given(parsed: Any) -> bool:
    """True when the user gave ``--stop-timeout`` (or its env var / config key), even 0."""
    return not isinstance(getattr(parsed, "stop_timeout", None), _NotGiven)


def _seconds(name: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None


def read_options(parsed: Any) -> GlueOptions:
    """GlueOptions from Locust's parsed options (values from the web UI arrive as text)."""

    def get(name: str) -> Any:
        return getattr(parsed, name, None) if parsed is not None else None

    envs = get("flow_env")
    config, report_dir, ca_bundle = get("flow_config"), get("report_dir"), get("ca_bundle")
    return GlueOptions(
        flow_config=Path(config) if config else None,
        flow_env=[e.strip() for e in str(envs).split(",") if e.strip()] if envs else None,
        report_dir=Path(report_dir) if report_dir else None,
        api_key_mode=get("api_key_mode") or None,
        stall_timeout_s=_seconds("--stall-timeout", get("stall_timeout")),
        limit_s=_seconds("--limit", get("limit")),
        insecure=bool(get("insecure")),
        capacity_quick=bool(get("capacity_quick")),
        processes=int(get("flow_processes")) if get("flow_processes") else None,
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        spawn_spread_s=_spread(get("flow_spawn_spread")),
        timestamps=_timestamps(get("timestamps")),
        proxy=get("proxy") or None,
        client_cert=Path(get("client_cert")) if get("client_cert") else None,
        client_key=Path(get("client_key")) if get("client_key") else None,
        fail_fast=not get("no_fail_fast"),
        failure_backoff_s=_backoff(get("flow_failure_backoff")),
    )


def _backoff(value: Any) -> float:
    seconds = _seconds("--flow-failure-backoff", value)
    if seconds is None:
        return DEFAULT_FAILURE_BACKOFF_S
    if not 0.0 <= seconds <= MAX_SPAWN_SPREAD_S:
        raise ConfigError(
            f"--flow-failure-backoff must be between 0 and {MAX_SPAWN_SPREAD_S:g} seconds, "
            f"got {value!r}"
        )
    return seconds


def _timestamps(value: Any) -> str:
    mode = str(value or "auto").strip().lower()
    if mode not in TIMESTAMP_MODES:
        choices = ", ".join(TIMESTAMP_MODES)
        raise ConfigError(f"--timestamps must be one of {choices}, got {value!r}")
    return mode


def _spread(value: Any) -> float:
    seconds = _seconds("--flow-spawn-spread", value)
    if seconds is None:
        return DEFAULT_SPAWN_SPREAD_S
    if not 0.0 <= seconds <= MAX_SPAWN_SPREAD_S:
        raise ConfigError(
            f"--flow-spawn-spread must be between 0 and {MAX_SPAWN_SPREAD_S:g} seconds, "
            f"got {value!r}"
        )
    return seconds


OPTIONS_EPILOG = """\
Each option is also an environment variable (LOCUST_ + its name in capitals: LOCUST_FLOW_CONFIG)
and a key of locust.conf or pyproject.toml [tool.locust]. Locust's own options: locust --help
(Locust prints its help before it reads a locustfile, so flowload's options are listed here).
"""


def options_help() -> str:
    """The help text of every option flowload adds to Locust's (``flowload options``)."""
    from locust.argument_parser import LocustArgumentParser  # noqa: PLC0415

    from harness.locust_glue.gating import add_gate_options  # noqa: PLC0415

    parser = LocustArgumentParser(
        prog="locust -f locustfiles/flow_stream.py",
        usage="%(prog)s [flowload options] [Locust options]",
        description="flowload's options, added to Locust's own:",
        epilog=OPTIONS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
        add_env_var_help=False,
    )
    add_options(parser)
    add_gate_options(parser)
    return str(parser.format_help())
