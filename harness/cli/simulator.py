"""``flowload simulate``: run the Flow simulator as its own process.

The first stdout line is ``listening on http://HOST:PORT`` (flushed at once; scripts read the
port from it). Notices go to stderr. SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

import gevent
from gevent.event import Event

from harness.errors import ConfigError, FlowloadError
from harness.simulator.process import LISTENING_PREFIX, build_server
from harness.simulator.profiles import Profile, default_profile, load_profile
from harness.simulator.send_log import OUTCOMES

EPILOG = """\
on-demand faults (header x-flowload-fault or query flowload_fault):
  status:503  reset:after=3  truncate:after=2  malformed:at=1  stall:2.5:after=1
  trickle:byte_ms=2  oversized:bytes=20000000:at=0  over_limit:by=1.5
exact schedules (headers, or query flowload_<name>):
  x-flowload-items, x-flowload-ttfi-ms, x-flowload-gap-ms, x-flowload-item-bytes,
  x-flowload-item-shape (padded | dense: rows, as slow to parse as real result sets)
stats: GET /_flowload/stats (scheduling error, counters, capacity per env)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowload simulate",
        description="Serve a simulated Flow 'Run streaming' API (seeded, with faults).",
        epilog=EPILOG + "log outcomes: " + ", ".join(OUTCOMES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: the OS picks one)")
    p.add_argument("--profile", help="profile TOML file (default: the built-in flows)")
    p.add_argument("--seed", type=int, help="seed of every random draw (default: profile or 0)")
    p.add_argument("--limit", type=float, help="execution limit in seconds (default 300)")
    p.add_argument(
        "--api-key",
        help="the one key accepted in every env (prefer env var FLOW_API_KEY: argv is visible)",
    )
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--fault-rate", type=float, help="share of streams with a random fault (0..1)")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (needs --tls-key)")
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    p.add_argument(
        "--tls-client-ca", help="require client certificates signed by this PEM CA (mutual TLS)"
    )
    p.add_argument("--list", action="store_true", help="print the profile's flows and exit")
    p.add_argument("--quiet", action="store_true", help="no notices on stderr")
    return p


def _out(text: str, *, err: bool = False) -> None:
    # The CLI's own output channel (stdout's first line is a contract; notices go to stderr).
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _list(profile: Profile) -> None:
    _out(f"{'id':<38} {'name':<18} {'fmt':<6} ttfi_ms / gap_ms / items / item_bytes")
    for flow in profile.flows.values():
        dists = (flow.ttfi_ms, flow.gap_ms, flow.items, flow.item_bytes)
        shape = " / ".join(d.describe() for d in dists)
        _out(f"{flow.id:<38} {flow.name:<18} {flow.format:<6} {shape}")


def _notice(text: str, *, quiet: bool) -> None:
    if not quiet:
        _out(text, err=True)


PARENT_PID_ENV = "FLOWLOAD_SIMULATOR_PARENT_PID"


def _watch_parent(stop: Event) -> None:
    """Stop when the process that started us is gone (even killed with -9): no orphans."""
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected or not expected.isdigit():
        return

    def watch() -> None:
        while not stop.is_set():
            if os.getppid() != int(expected):
                stop.set()
                return
            gevent.sleep(0.5)

    gevent.spawn(watch)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; return the exit code (2 on a usage error)."""
    args = _parser().parse_args(argv)
    try:
        profile = load_profile(args.profile) if args.profile else default_profile()
        if args.list:
            _list(profile)
            return 0
        key = args.api_key or os.environ.get("FLOW_API_KEY") or None
        if bool(args.tls_cert) != bool(args.tls_key):
            raise ConfigError("--tls-cert and --tls-key go together: give both, or neither")
        server = build_server(
            profile,
            host=args.host,
            port=args.port,
            seed=args.seed,
            limit_s=args.limit,
            api_key=key,
            fault_rate=args.fault_rate,
            log_path=args.log,
            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            client_ca=args.tls_client_ca,
        )
        server.start()
    except FlowloadError as exc:
        _out(f"flowload simulate: error: {exc}", err=True)
        return 2
    _out(f"{LISTENING_PREFIX}{server.url}")
    if server.profile.open_auth:
        _notice("no API key configured: accepting any non-empty key in every env", quiet=args.quiet)
    _notice(f"seed {server.seed}, limit {server.limit_s:g} s, Ctrl-C stops", quiet=args.quiet)
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    _watch_parent(stop)
    stop.wait()
    server.stop(timeout=1.0)
    return 0
