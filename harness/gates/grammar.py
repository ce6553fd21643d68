"""Gate expressions: ``[ENV[/FLOW]:] METRIC[.STAT] OP VALUE[UNIT] [significant]`` -> :class:`Gate`.

Examples: ``ttfi.p95 < 800ms``, ``Production/orders: itl.p99 <= 250ms``, ``error_rate < 1%``,
``outcomes.stalled == 0``, ``ttfi.p95 <= baseline * 1.10 significant``. A malformed expression
raises :class:`GateError` naming what is valid, so a bad gate stops a run before it starts.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.config import GateConfig
from harness.errors import ConfigError
from harness.flow_api import Env, parse_env
from harness.gates.metrics import (
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

__all__ = ["Gate", "GateError", "Op", "Threshold", "gate_from_config", "parse_gate"]

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ABSOLUTE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>\S*)")
_RELATIVE = re.compile(rf"baseline(?:\s*(?P<op>[*+-])\s*(?P<num>{_NUM})\s*(?P<unit>\S*))?")
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[\w.]+)?")
_OP_CHARS = re.compile(r"[<>=!]+")
_SIGNIFICANT = re.compile(r"\s+significant\s*$", re.IGNORECASE)


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


def _fail(text: str, problem: str) -> GateError:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return GateError(f"gate {shown!r}: {problem}. Valid: {valid_help()}")


def _parse_selector(selector: str, text: str) -> tuple[Env | None, str | None]:
    env_text, slash, flow_text = selector.strip().partition("/")
    env_text, flow_text = env_text.strip(), flow_text.strip()
    if slash and not flow_text:
        raise _fail(text, "the selector names no flow after '/'; write ENV/FLOW or */FLOW")
    env: Env | None = None
    if env_text not in ("", "*"):
        try:
            env = parse_env(env_text)
        except ConfigError as exc:
            raise _fail(text, f"unknown env in the selector ({exc})") from None
    elif not env_text and not slash:
        raise _fail(text, "empty selector before ':'; write ENV:, ENV/FLOW: or */FLOW:")
    return env, (flow_text or None)


def _split_op(body: str, text: str) -> tuple[str, Op, str]:
    found = _OP_CHARS.search(body)
    if found is None:
        raise _fail(text, "no comparison operator")
    if found.group() not in OPS:
        raise _fail(text, f"unknown operator {_q(found.group())}")
    lhs, rhs = body[: found.start()].strip(), body[found.end() :].strip()
    if not lhs:
        raise _fail(text, "no metric before the operator")
    if not rhs:
        raise _fail(text, "no value after the operator")
    return lhs, Op(found.group()), rhs


def _parse_metric(lhs: str, text: str) -> MetricRef:
    if _NAME.fullmatch(lhs) is None:
        raise _fail(text, f"{_q(lhs)} is not a metric name")
    raw_name, dot, raw_stat = lhs.lower().partition(".")
    name = canonical_metric(raw_name)
    if name in BLOCK_METRICS:
        if not dot:
            raise _fail(text, f"{name} needs a statistic, e.g. {name}.p95")
        if raw_stat not in STATS:
            raise _fail(text, f"unknown statistic {_q(raw_stat)} for {name}")
        kind = Kind.COUNT if raw_stat == "count" else BLOCK_METRICS[name][1]
        return MetricRef(name, raw_stat, kind)
    if name == "outcomes":
        if raw_stat not in OUTCOME_NAMES:
            raise _fail(
                text, f"unknown outcome {_q(raw_stat)}; outcomes: {', '.join(OUTCOME_NAMES)}"
            )
        return MetricRef(name, raw_stat, Kind.COUNT)
    if name in SCALAR_METRICS:
        if dot:
            raise _fail(text, f"{name} takes no statistic (drop the part after the dot)")
        return MetricRef(name, None, SCALAR_METRICS[name])
    raise _fail(text, f"unknown metric {_q(raw_name)}")


def _number(raw: str, text: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise _fail(text, f"{_q(raw)} is not a finite number")
    return value


def _unit(raw: str, metric: MetricRef, text: str) -> str:
    units = metric.kind.units
    if raw in units:
        return raw
    named = ", ".join(u for u in units if u)
    accepted = f"{named} or no unit" if named else "no unit"
    raise _fail(text, f"unit {_q(raw)} does not fit {metric.text} (accepted: {accepted})")


def _parse_threshold(rhs: str, metric: MetricRef, text: str) -> Threshold:
    absolute = _ABSOLUTE.fullmatch(rhs)
    if absolute is not None:
        unit = _unit(absolute["unit"], metric, text)
        return Threshold(_number(absolute["num"], text), unit)
    relative = _RELATIVE.fullmatch(rhs)
    if relative is None:
        raise _fail(text, f"cannot read the value {_q(rhs)}")
    if relative["op"] is None:
        return Threshold(None, "", "")
    unit = _unit(relative["unit"], metric, text)
    if relative["op"] == "*" and unit:
        raise _fail(text, "a baseline factor takes no unit (baseline * 1.10)")
    return Threshold(_number(relative["num"], text), unit, relative["op"])


def _check_significance(gate: Gate, text: str) -> None:
    if not gate.significant:
        return
    if not gate.uses_baseline:
        raise _fail(text, "'significant' needs a baseline on the right (baseline * 1.10)")
    if gate.op.lower_is_better is None:
        raise _fail(text, "'significant' works with < <= > >=, not == or !=")
    if gate.metric.name not in SIGNIFICANCE_FIELDS or gate.metric.stat == "count":
        usable = ", ".join(SIGNIFICANCE_FIELDS)
        raise _fail(text, f"'significant' needs per-stream values: use it with {usable}")


def parse_gate(
    text: str,
    *,
    env: Env | None = None,
    flow: str | None = None,
    abort_on_fail: bool = False,
    delay_abort_s: float = 0.0,
) -> Gate:
    """Parse one gate; ``env``/``flow`` come from a ``[[gates]]`` table (or a prefix in ``text``).

    Raises GateError (a ConfigError) listing the valid metrics, statistics, operators and units.
    """
    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "the expression is empty")
    body = text
    if ":" in text:
        selector, body = text.split(":", 1)
        sel_env, sel_flow = _parse_selector(selector, text)
        if (env is not None and sel_env not in (None, env)) or (
            flow is not None and sel_flow not in (None, flow)
        ):
            raise _fail(text, "the selector contradicts the gate's env/flow keys")
        env, flow = env or sel_env, flow or sel_flow
    body, marks = _SIGNIFICANT.subn("", body)
    lhs, op, rhs = _split_op(body, text)
    metric = _parse_metric(lhs, text)
    if not (math.isfinite(delay_abort_s) and delay_abort_s >= 0):
        raise _fail(text, f"delay_abort_s must be a finite number >= 0, got {delay_abort_s!r}")
    gate = Gate(
        metric=metric,
        op=op,
        threshold=_parse_threshold(rhs, metric, text),
        env=env,
        flow=flow,
        significant=bool(marks),
        abort_on_fail=abort_on_fail,
        delay_abort_s=float(delay_abort_s),
    )
    _check_significance(gate, text)
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
