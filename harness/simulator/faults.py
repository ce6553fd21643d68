"""Faults the simulator can inject into a stream, and their small text grammar.

A fault spec is ``kind`` followed by ``:``-separated arguments, positional or ``key=value``::

    status:503            HTTP 503 before streaming (any 4xx/5xx; default 500)
    reset:after=3         send 3 items, then reset the connection (RST)
    truncate:after=2      send 2 items, then end the HTTP body cleanly without the closing ``]``
    malformed:at=1        item 1 (0-based) is broken JSON; the stream goes on
    stall:2.5:after=1     after 1 item, send nothing for 2.5 s, then go on
    trickle:byte_ms=2     every byte is its own chunk, 2 ms apart (default 1 ms)
    oversized:bytes=20000000:at=0   item 0 is padded to that many bytes (default 16 MiB)
    over_limit:by=1.5     ignore the execution limit: end 1.5 s after it (default 1 s)

The same grammar is used on demand (header ``x-flowload-fault`` or query ``flowload_fault``), in
a flow's ``fault`` key and as the keys of a profile's ``[faults]`` weights table.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ConfigError


class FaultKind(enum.StrEnum):
    """The kinds of injected faults."""

    STATUS = "status"
    RESET = "reset"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    STALL = "stall"
    TRICKLE = "trickle"
    OVERSIZED = "oversized"
    OVER_LIMIT = "over_limit"


#: The outcome word the simulator logs for a stream that carried each fault.
FAULT_OUTCOME: dict[FaultKind, str] = {
    FaultKind.STATUS: "http_error",
    FaultKind.RESET: "reset",
    FaultKind.TRUNCATE: "truncated",
    FaultKind.MALFORMED: "malformed",
    FaultKind.STALL: "stalled",
    FaultKind.TRICKLE: "trickle",
    FaultKind.OVERSIZED: "oversized",
    FaultKind.OVER_LIMIT: "over_limit",
}

# kind -> (name of the positional argument, accepted key=value names)
_ARGS: dict[FaultKind, tuple[str | None, frozenset[str]]] = {
    FaultKind.STATUS: ("code", frozenset({"code"})),
    FaultKind.RESET: (None, frozenset({"after"})),
    FaultKind.TRUNCATE: (None, frozenset({"after"})),
    FaultKind.MALFORMED: (None, frozenset({"at"})),
    FaultKind.STALL: ("seconds", frozenset({"seconds", "after"})),
    FaultKind.TRICKLE: (None, frozenset({"byte_ms"})),
    FaultKind.OVERSIZED: (None, frozenset({"bytes", "at"})),
    FaultKind.OVER_LIMIT: ("by", frozenset({"by"})),
}

DEFAULT_OVERSIZED_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault. ``index`` is the item count/position the fault applies at.

    ``seconds`` is the stall length, the trickle's per-byte delay or how far past the limit an
    ``over_limit`` stream ends; ``status`` the HTTP status; ``size`` the oversized item's bytes.
    """

    kind: FaultKind
    index: int = 0
    seconds: float = 0.0
    status: int = 500
    size: int = 0
    spec: str = ""

    @property
    def outcome(self) -> str:
        """The outcome word logged for a stream with this fault."""
        return FAULT_OUTCOME[self.kind]


def _kv(spec: str, kind: FaultKind, parts: list[str]) -> dict[str, str]:
    positional, names = _ARGS[kind]
    values: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            if positional is None or positional in values:
                raise ConfigError(f"fault {spec!r}: unexpected argument {part!r}")
            key, value = positional, part
        if key not in names:
            raise ConfigError(f"fault {spec!r}: unknown argument {key!r}; use {sorted(names)}")
        values[key] = value
    return values


def _num(spec: str, key: str, text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(
            f"fault {spec!r}: {key} must be a {kind.__name__}, got {text!r}"
        ) from None
    if value < 0:
        raise ConfigError(f"fault {spec!r}: {key} must be >= 0, got {text!r}")
    return value


def parse_fault(spec: str) -> Fault:
    """Parse one fault spec (see the module docstring); raise ConfigError naming the kinds."""
    text = spec.strip()
    head, *parts = text.split(":")
    try:
        kind = FaultKind(head.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise ConfigError(f"unknown fault {head!r} in {spec!r}; use one of {kinds}") from None
    v = _kv(text, kind, [p.strip() for p in parts if p.strip()])
    if kind is FaultKind.STATUS:
        code = int(_num(text, "code", v.get("code", "500"), int))
        if not 400 <= code <= 599:
            raise ConfigError(f"fault {spec!r}: status must be 400..599, got {code}")
        return Fault(kind, status=code, spec=text)
    if kind is FaultKind.STALL:
        if "seconds" not in v:
            raise ConfigError(
                f"fault {spec!r}: say how long, e.g. 'stall:2.5' or 'stall:2.5:after=1'"
            )
        after = int(_num(text, "after", v.get("after", "1"), int))
        return Fault(
            kind, index=after, seconds=_num(text, "seconds", v["seconds"], float), spec=text
        )
    if kind is FaultKind.TRICKLE:
        byte_s = _num(text, "byte_ms", v.get("byte_ms", "1"), float) / 1000.0
        return Fault(kind, seconds=byte_s, spec=text)
    if kind is FaultKind.OVERSIZED:
        size = int(_num(text, "bytes", v.get("bytes", str(DEFAULT_OVERSIZED_BYTES)), int))
        return Fault(kind, index=int(_num(text, "at", v.get("at", "0"), int)), size=size, spec=text)
    if kind is FaultKind.OVER_LIMIT:
        return Fault(kind, seconds=_num(text, "by", v.get("by", "1"), float), spec=text)
    key = "at" if kind is FaultKind.MALFORMED else "after"
    default = "0" if kind is FaultKind.MALFORMED else "1"
    return Fault(kind, index=int(_num(text, key, v.get(key, default), int)), spec=text)


@dataclass(frozen=True, slots=True)
class FaultMix:
    """Faults injected at random: with probability ``rate`` a stream gets one, picked by weight."""

    rate: float = 0.0
    faults: tuple[Fault, ...] = ()
    weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ConfigError(f"fault rate must be within 0..1 (0.02 = 2 %), got {self.rate}")
        if len(self.faults) != len(self.weights) or any(w < 0 for w in self.weights):
            raise ConfigError("fault weights must be >= 0, one per fault")

    @classmethod
    def from_weights(cls, rate: float, weights: Mapping[str, float]) -> FaultMix:
        """Build from ``{spec: weight}``; with no weights, every kind with its defaults."""
        if not weights:
            weights = dict.fromkeys(DEFAULT_RANDOM_FAULTS, 1.0)
        faults = tuple(parse_fault(spec) for spec in weights)
        return cls(rate, faults, tuple(float(w) for w in weights.values()))

    def with_rate(self, rate: float) -> FaultMix:
        """The same mix with another rate."""
        return FaultMix(rate, self.faults, self.weights)

    def pick(self, rng: random.Random) -> Fault | None:
        """Decide this stream's fault (always one draw, so the sequence is stable)."""
        draw = rng.random()
        if draw >= self.rate or not self.faults or sum(self.weights) <= 0:
            return None
        return rng.choices(self.faults, weights=self.weights, k=1)[0]


#: What ``--fault-rate`` injects when the profile has no ``[faults]`` weights: the faults a
#: harness must classify, kept short so a run with faults does not slow to a crawl.
DEFAULT_RANDOM_FAULTS: tuple[str, ...] = (
    "status:500",
    "status:503",
    "reset:after=1",
    "truncate:after=1",
    "malformed:at=1",
    "stall:2:after=1",
)
