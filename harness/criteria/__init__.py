"""``[ENV[/FLOW]:] METRIC[.STAT] OP VALUE[UNIT]``: what gates and SLOs are written in.

:mod:`~harness.criteria.vocabulary` declares what can be measured (the stats-block keys, their
kinds, units and labels); :mod:`~harness.criteria.grammar` is the one parser. CI gates
(:mod:`harness.gates`) and capacity SLOs (:mod:`harness.capacity.slo`) both use them.
"""

from __future__ import annotations

from harness.criteria.grammar import Gate, GateError, Op, Threshold, parse_gate
from harness.criteria.vocabulary import Kind, MetricRef

__all__ = ["Gate", "GateError", "Kind", "MetricRef", "Op", "Threshold", "parse_gate"]
