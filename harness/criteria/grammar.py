"""The one expression language of gates and SLOs: ``[ENV[/FLOW]:] METRIC[.STAT] OP VALUE[UNIT]``.

Examples: ``ttfi.p95 < 800ms``, ``Production/orders: itl.p99 <= 250ms``, ``error_rate < 1%``,
``outcomes.stalled == 0``, ``ttfi.p95 <= baseline * 1.10 significant``, and the flat spelling
``ttfi_p95_ms <= 800`` (the unit in the name). A time metric without a statistic means its p95.
Gates (:mod:`harness.gates`) and capacity SLOs (:mod:`harness.capacity.slo`) both parse here, so
an expression means the same in both. A malformed expression raises :class:`GateError` naming
what is valid, so a bad gate or SLO stops a run before it starts.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.config import GateConfig
from harness.criteria.vocabulary import (
    BLOCK_METRICS,
    OPS,
    OUTCOME_NAMES,
    SCALAR_METRICS,
    SIGNIFICANCE_FIELDS,
    STATS,
    Kind,
    MetricRef,
    canonical_metric,
    valid_help,
)
from harness.errors import ConfigError
from harness.flow_api import Env, parse_env

__all__ = ["Gate", "GateError", "Op", "Threshold", "gate_from_config", "parse_gate"]

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ABSOLUTE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>\S*)")
_RELATIVE = re.compile(rf"baseline(?:\s*(?P<op>[*+-])\s*(?P<num>{_NUM})\s*(?P<unit>\S*))?")
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[\w.]+)?")
_OP_CHARS = re.compile(r"[<>=!]+")
_SIGNIFICANT = re.compile(r"\s+significant\s*$", re.IGNORECASE)
# Flat names, as in a TOML key: ttfi_p95_ms, duration_p99_s, limit_used_p99, ttfi_p99_9_ms.
_FLAT = re.compile(
    r"(?:(?P<time>ttfb|ttfi|itl|duration)_(?P<stat>[a-z0-9_]+?)_(?P<unit>ms|s)"
    r"|limit_used_(?P<rstat>[a-z0-9_]+))"
)
DEFAULT_STAT = "p95"


class GateError(ConfigError):
    """A gate expression or selector is invalid; the message lists what is accepted."""


class Op(enum.StrEnum):
    """A comparison; the observed value is on the left."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="

    def holds(self, observed: float, threshold: float) -> bool:
        """True when ``observed OP threshold``."""
        return _OP_FUNCS[self](observed, threshold)

    @property
    def lower_is_better(self) -> bool | None:
        """True for ``<``/``<=``, False for ``>``/``>=``, None for equality tests."""
        if self in (Op.LT, Op.LE):
            return True
        if self in (Op.GT, Op.GE):
            return False
        return None


_OP_FUNCS: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


def number_text(value: float) -> str:
    """Shortest text that reads back as ``value`` (``800`` rather than ``800.0``)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True, slots=True)
class Threshold:
    """The right side, as written: ``amount`` in ``unit``, absolute or relative to a baseline.

    ``baseline`` is None for an absolute value, ``""`` for the baseline itself, or the operator
    applied to it: ``*`` (factor, no unit), ``+`` or ``-`` (an amount in the metric's units).
    """

    amount: float | None
    unit: str = ""
    baseline: str | None = None

    def resolve(self, kind: Kind, base: float | None = None) -> float | None:
        """The threshold in the summary's unit; None when it needs a missing baseline value."""
        factor = kind.units[self.unit]
        if self.baseline is None:
            return float(self.amount or 0.0) * factor
        if base is None:
            return None
        amount = float(self.amount or 0.0)
        if self.baseline == "*":
            return base * amount
        if self.baseline == "+":
            return base + amount * factor
        if self.baseline == "-":
            return base - amount * factor
        return base

    @property
    def text(self) -> str:
        """Canonical spelling: ``800ms``, ``baseline``, ``baseline * 1.1``, ``baseline + 50ms``."""
        if self.baseline == "":
            return "baseline"
        value = f"{number_text(float(self.amount or 0.0))}{self.unit}"
        return value if self.baseline is None else f"baseline {self.baseline} {value}"


@dataclass(frozen=True, slots=True)
class Gate:
    """One parsed gate, with the selector and abort settings it came with."""

    metric: MetricRef
    op: Op
    threshold: Threshold
    env: Env | None = None
    flow: str | None = None
    significant: bool = False
    abort_on_fail: bool = False
    delay_abort_s: float = 0.0

    @property
    def expr(self) -> str:
        """The canonical expression without its selector (parses back to the same gate)."""
        text = f"{self.metric.text} {self.op.value} {self.threshold.text}"
        return f"{text} significant" if self.significant else text

    @property
    def selector(self) -> str:
        """``Production/orders``, ``Production``, ``*/orders`` or ``""`` (the whole run)."""
        env = self.env.value if self.env is not None else "*"
        if self.flow is not None:
            return f"{env}/{self.flow}"
        return "" if self.env is None else env

    @property
    def label(self) -> str:
        """Selector and expression, as accepted by ``--gate``."""
        return f"{self.selector}: {self.expr}" if self.selector else self.expr

    @property
    def uses_baseline(self) -> bool:
        """True when the threshold is relative to a baseline run."""
        return self.threshold.baseline is not None


def _q(fragment: str) -> str:
    """A piece of user input, quoted and shortened for a message."""
    return repr(fragment if len(fragment) <= 40 else fragment[:37] + "...")


def _where(what: str, text: str) -> str:
    """``gate 'ttfi.p95 < x'``: what is being parsed, for the start of a message."""
    shown = text if len(text) <= 120 else text[:117] + "..."
    return f"{what} {shown!r}"


def _fail(where: str, problem: str) -> GateError:
    return GateError(f"{where}: {problem}. Valid: {valid_help()}")


def _parse_selector(selector: str, where: str) -> tuple[Env | None, str | None]:
    env_text, slash, flow_text = selector.strip().partition("/")
    env_text, flow_text = env_text.strip(), flow_text.strip()
    if slash and not flow_text:
        raise _fail(where, "the selector names no flow after '/'; write ENV/FLOW or */FLOW")
    env: Env | None = None
    if env_text not in ("", "*"):
        try:
            env = parse_env(env_text)
        except ConfigError as exc:
            raise _fail(where, f"unknown env in the selector ({exc})") from None
    elif not env_text and not slash:
        raise _fail(where, "empty selector before ':'; write ENV:, ENV/FLOW: or */FLOW:")
    return env, (flow_text or None)


def _split_op(body: str, where: str) -> tuple[str, Op, str]:
    found = _OP_CHARS.search(body)
    if found is None:
        raise _fail(where, "no comparison operator")
    if found.group() not in OPS:
        raise _fail(where, f"unknown operator {_q(found.group())}")
    lhs, rhs = body[: found.start()].strip(), body[found.end() :].strip()
    if not lhs:
        raise _fail(where, "no metric before the operator")
    if not rhs:
        raise _fail(where, "no value after the operator")
    return lhs, Op(found.group()), rhs


def _unflatten(lhs: str) -> tuple[str, str]:
    """``ttfi_p95_ms`` -> (``ttfi.p95``, ``ms``); other names unchanged, with no implied unit."""
    flat = _FLAT.fullmatch(lhs)
    if flat is None:
        return lhs, ""
    stat = (flat["stat"] or flat["rstat"]).replace("_", ".")
    stat = "p99.9" if stat == "p999" else stat
    return f"{flat['time'] or 'limit_used'}.{stat}", flat["unit"] or ""


def _parse_metric(lhs: str, where: str) -> MetricRef:
    if _NAME.fullmatch(lhs) is None:
        raise _fail(where, f"{_q(lhs)} is not a metric name")
    raw_name, dot, raw_stat = lhs.lower().partition(".")
    name = canonical_metric(raw_name)
    if name in BLOCK_METRICS:
        raw_stat = raw_stat if dot else DEFAULT_STAT
        if raw_stat not in STATS:
            raise _fail(where, f"unknown statistic {_q(raw_stat)} for {name}")
        kind = Kind.COUNT if raw_stat == "count" else BLOCK_METRICS[name][1]
        return MetricRef(name, raw_stat, kind)
    if name == "outcomes":
        if raw_stat not in OUTCOME_NAMES:
            raise _fail(
                where, f"unknown outcome {_q(raw_stat)}; outcomes: {', '.join(OUTCOME_NAMES)}"
            )
        return MetricRef(name, raw_stat, Kind.COUNT)
    if name in SCALAR_METRICS:
        if dot:
            raise _fail(where, f"{name} takes no statistic (drop the part after the dot)")
        return MetricRef(name, None, SCALAR_METRICS[name])
    raise _fail(where, f"unknown metric {_q(raw_name)}")


def _number(raw: str, where: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise _fail(where, f"{_q(raw)} is not a finite number")
    return value


def _unit(raw: str, metric: MetricRef, where: str) -> str:
    units = metric.kind.units
    if raw in units:
        return raw
    named = ", ".join(u for u in units if u)
    accepted = f"{named} or no unit" if named else "no unit"
    raise _fail(where, f"unit {_q(raw)} does not fit {metric.text} (accepted: {accepted})")


def _parse_threshold(rhs: str, metric: MetricRef, where: str, implied: str = "") -> Threshold:
    absolute = _ABSOLUTE.fullmatch(rhs)
    if absolute is not None:
        unit = _unit(absolute["unit"] or implied, metric, where)
        return Threshold(_number(absolute["num"], where), unit)
    relative = _RELATIVE.fullmatch(rhs)
    if relative is None:
        raise _fail(where, f"cannot read the value {_q(rhs)}")
    if relative["op"] is None:
        return Threshold(None, "", "")
    unit = _unit(relative["unit"], metric, where)
    if relative["op"] == "*" and unit:
        raise _fail(where, "a baseline factor takes no unit (baseline * 1.10)")
    return Threshold(_number(relative["num"], where), unit, relative["op"])


def _check_significance(gate: Gate, where: str) -> None:
    if not gate.significant:
        return
    if not gate.uses_baseline:
        raise _fail(where, "'significant' needs a baseline on the right (baseline * 1.10)")
    if gate.op.lower_is_better is None:
        raise _fail(where, "'significant' works with < <= > >=, not == or !=")
    if gate.metric.name not in SIGNIFICANCE_FIELDS or gate.metric.stat == "count":
        usable = ", ".join(SIGNIFICANCE_FIELDS)
        raise _fail(where, f"'significant' needs per-stream values: use it with {usable}")


def parse_gate(
    text: str,
    *,
    env: Env | None = None,
    flow: str | None = None,
    abort_on_fail: bool = False,
    delay_abort_s: float = 0.0,
    what: str = "gate",
) -> Gate:
    """Parse one gate; ``env``/``flow`` come from a ``[[gates]]`` table (or a prefix in ``text``).

    ``what`` names the expression in messages (``gate``, ``SLO``). Raises GateError (a
    ConfigError) listing the valid metrics, statistics, operators and units.
    """
    if not isinstance(text, str) or not text.strip():
        raise _fail(_where(what, str(text)), "the expression is empty")
    where = _where(what, text)
    body = text
    if ":" in text:
        selector, body = text.split(":", 1)
        sel_env, sel_flow = _parse_selector(selector, where)
        if (env is not None and sel_env not in (None, env)) or (
            flow is not None and sel_flow not in (None, flow)
        ):
            raise _fail(where, f"the selector contradicts the {what}'s env/flow keys")
        env, flow = env or sel_env, flow or sel_flow
    body, marks = _SIGNIFICANT.subn("", body)
    lhs, op, rhs = _split_op(body, where)
    lhs, implied_unit = _unflatten(lhs.strip().lower())
    metric = _parse_metric(lhs, where)
    if not (math.isfinite(delay_abort_s) and delay_abort_s >= 0):
        raise _fail(where, f"delay_abort_s must be a finite number >= 0, got {delay_abort_s!r}")
    gate = Gate(
        metric=metric,
        op=op,
        threshold=_parse_threshold(rhs, metric, where, implied_unit),
        env=env,
        flow=flow,
        significant=bool(marks),
        abort_on_fail=abort_on_fail,
        delay_abort_s=float(delay_abort_s),
    )
    _check_significance(gate, where)
    return gate


def gate_from_config(config: GateConfig) -> Gate:
    """Parse a scenario ``[[gates]]`` entry."""
    return parse_gate(
        config.expr,
        env=config.env,
        flow=config.flow,
        abort_on_fail=config.abort_on_fail,
        delay_abort_s=config.delay_abort_s,
    )
