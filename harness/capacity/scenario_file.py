"""The scenario file a ``flowload capacity`` run uses: the user's, a derived copy, or the demo.

Without a target (no ``--host``, no ``[target]``) the run goes to the bundled simulator with the
``capacity_demo.toml`` profile (execution slots per env, so the knee is visible). The demo loads
Production alone (8 slots): in a closed loop each stream picks its env, so once one env
saturates its queue holds users and the other envs get fewer; one env per capacity run gives a
clean curve (the report explains the mixed case when a scenario has several envs).

When a user's file needs a change (``--mode``, a simulator profile, a default plan) a derived
copy is written into the report directory, with every relative path made absolute (the copy
lives elsewhere than the original).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from harness.capacity.load_plan import LoadMode
from harness.errors import ConfigError

SCENARIO_FILE = "capacity-scenario.toml"
DEMO_PROFILE = "capacity_demo.toml"
DEMO_ENVS = (("Production", 1.0),)
# Users: the steps straddle Production's 8 slots; at 20 the queue breaks the TTFI SLO.
DEMO_STEPPED = (2, 4, 8, 12, 20)
# Streams/s: 8 slots at ~0.48 s per stream serve ~16.7 streams/s.
DEMO_ARRIVAL = (4, 8, 12, 16, 24)
DEMO_STEP_S, DEMO_SETTLE_S = 60.0, 10.0  # --quick: 30 s steps, 5 s settle (loadplan)
DEMO_MAX_IN_FLIGHT = 40
_PATH_KEYS = {
    ("target", "ca_bundle"),
    ("target", "api_key_file"),
    ("envs", "api_key_file"),
    ("flows", "body_file"),
    ("simulator", "profile"),
}


def demo_profile_path() -> Path:
    """The packaged ``capacity_demo.toml`` (works from a checkout and an installed package)."""
    path = Path(str(resources.files("harness.simulator").joinpath(DEMO_PROFILE)))
    if not path.is_file():
        raise ConfigError(f"the packaged simulator profile {path} is missing; reinstall flowload")
    return path


@dataclass(frozen=True, slots=True)
class ScenarioChoice:
    """Which scenario file the run uses and why (for the console and the report)."""

    path: Path | None  # None: no file at all (not used by `flowload capacity`)
    generated: bool
    reason: str


def demo_scenario(mode: LoadMode, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The demo scenario as TOML data: the bundled simulator, three envs, a plan with a knee."""
    steps = DEMO_STEPPED if mode is LoadMode.STEPPED else DEMO_ARRIVAL
    capacity: dict[str, Any] = {
        "mode": mode.value,
        "steps": list(steps),
        "step_s": DEMO_STEP_S,
        "settle_s": DEMO_SETTLE_S,
    }
    if mode is LoadMode.ARRIVAL:
        capacity["max_in_flight"] = DEMO_MAX_IN_FLIGHT
    capacity["slo"] = {"ttfi_p95_ms": 800, "error_rate": "< 1%"}
    stamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {
        "_comment": f"written by flowload capacity at {stamp}: bundled simulator, demo plan",
        "simulator": {"profile": str(demo_profile_path()), "seed": 7},
        "envs": [{"name": name, "weight": weight} for name, weight in DEMO_ENVS],
        "capacity": capacity,
    }


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML data of a scenario file (ConfigError naming the file when it cannot be read)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML scenario: {exc}") from None


def derive_scenario(
    data: Mapping[str, Any], source: Path, *, mode: LoadMode | None, simulator: bool
) -> tuple[dict[str, Any], list[str]]:
    """A copy of a user's scenario for this run, and what was changed (empty: use the original).

    ``simulator``: the run goes to the bundled simulator (no target anywhere), so a missing
    ``[simulator]`` gets the capacity demo profile and a missing ``[capacity]`` the demo plan.
    """
    out = _absolute_paths(data, source.parent)
    changes: list[str] = []
    capacity = dict(out.get("capacity") or {})
    if simulator and "simulator" not in out:
        out["simulator"] = {"profile": str(demo_profile_path())}
        changes.append("simulator profile: the bundled capacity demo (slots per env)")
    if simulator and not capacity:
        demo = demo_scenario(mode or LoadMode.STEPPED)["capacity"]
        capacity = {k: v for k, v in demo.items() if k != "slo"}
        changes.append("capacity plan: the demo plan (no [capacity] table in the file)")
    if mode is not None and capacity.get("mode", LoadMode.STEPPED.value) != mode.value:
        capacity["mode"] = mode.value
        changes.append(f"capacity mode: {mode.value} (--mode)")
    if capacity:
        out["capacity"] = capacity
    return out, changes


def _absolute_paths(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table, value in data.items():
        if isinstance(value, Mapping):
            out[table] = _fix_table(table, value, base)
        elif isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            out[table] = [_fix_table(table, v, base) for v in value]
        else:
            out[table] = value
    return out


def _fix_table(table: str, value: Mapping[str, Any], base: Path) -> dict[str, Any]:
    fixed = dict(value)
    for key, item in value.items():
        if (table, key) in _PATH_KEYS and isinstance(item, str) and item:
            path = Path(item).expanduser()
            fixed[key] = str(path if path.is_absolute() else (base / path).resolve())
    return fixed


def write_scenario(data: Mapping[str, Any], directory: Path) -> Path:
    """Write ``data`` as TOML to ``directory/capacity-scenario.toml``; return the path."""
    path = directory / SCENARIO_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(to_toml(data), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the run's scenario {path}: {exc.strerror}") from None
    return path


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text for scenario data (tables, arrays of tables, scalars, lists, inline tables).

    A top-level ``_comment`` string becomes a comment line.
    """
    lines: list[str] = []
    comment = data.get("_comment")
    if isinstance(comment, str):
        lines.append(f"# {comment}")
    body = {k: v for k, v in data.items() if k != "_comment"}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in body.items() if not _is_table(v)]
    _tables(body, [], lines)
    return "\n".join(lines) + "\n"


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)
    )


def _tables(data: Mapping[str, Any], prefix: list[str], lines: list[str]) -> None:
    for key, value in data.items():
        name = [*prefix, _key(key)]
        if isinstance(value, Mapping):
            lines += ["", f"[{'.'.join(name)}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in value.items() if not _is_table(v)]
            _tables(value, name, lines)
        elif _is_table(value):
            for item in value:
                lines += ["", f"[[{'.'.join(name)}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items() if not _is_table(v)]
                _tables(item, name, lines)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _value(value: Any) -> str:  # noqa: PLR0911 - one return per TOML type
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    raise ConfigError(f"cannot write {type(value).__name__} values to a scenario file")
