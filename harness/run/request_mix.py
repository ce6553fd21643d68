"""What a run sends: every (env, flow) pair with its weight and its prepared request.

Requests are built once per pair (body encoded once, key placed once), then picked by weight
for each stream. Library code: no Locust here, so the picking is testable on its own.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.config import FlowConfig, Scenario
from harness.errors import ConfigError
from harness.flow_api import Env, FlowTarget, build_stream_request
from harness.reader import ItemFormat, ItemReader
from harness.secrets import ApiKey
from harness.transport import HttpRequest

SIMULATOR_TENANT = "flowload"
SIMULATOR_WORKSPACE = "simulator"
_PROFILE_FORMATS = {
    "json": ItemFormat.JSON_ARRAY,
    "ndjson": ItemFormat.NDJSON,
    "sse": ItemFormat.SSE,
}


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """One (env, flow) pair, ready to send."""

    env: Env
    flow: FlowConfig
    request: HttpRequest
    weight: float

    @property
    def label(self) -> str:
        """The request name in Locust's stats: ``flow [Env]`` (never a URL)."""
        return f"{self.flow.name} [{self.env.value}]"

    def new_reader(self, content_format: ItemFormat | None = None) -> ItemReader:
        """A new reader: the flow's format, else the response Content-Type's, else sniffed."""
        return ItemReader(
            self.flow.format or content_format,
            decode=self.flow.decode,
            max_item_bytes=self.flow.max_item_bytes,
        )


class StreamPlan:
    """Targets in proportion to env weight x flow weight (a weighted round robin, or drawn)."""

    def __init__(self, targets: Sequence[StreamTarget]) -> None:
        if not targets:
            raise ConfigError("nothing to run: the scenario has no flows; add [[flows]] entries")
        self.targets = tuple(targets)
        self._cumulative = list(itertools.accumulate(t.weight for t in self.targets))

    def order(self, length: int = 0) -> list[StreamTarget]:
        """A deterministic sequence with every target in proportion to its weight.

        Smooth weighted round robin (as nginx balances upstreams): targets are spread through
        the sequence instead of bunched, so even a short run sees every (env, flow) pair.
        """
        total = self._cumulative[-1]
        credit = [0.0] * len(self.targets)
        sequence = []
        for _ in range(length or max(100, 10 * len(self.targets))):
            for i, target in enumerate(self.targets):
                credit[i] += target.weight
            best = max(range(len(credit)), key=credit.__getitem__)
            credit[best] -= total
            sequence.append(self.targets[best])
        return sequence

    def cursor(self, start: int) -> PlanCursor:
        """An endless walk through :meth:`order`, from position ``start`` (one per user)."""
        return PlanCursor(self.order(), start)

    def pick(self, rng: random.Random) -> StreamTarget:
        """One target, drawn by weight."""
        point = rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, point)
        return self.targets[min(index, len(self.targets) - 1)]

    def share(self, target: StreamTarget) -> float:
        """The expected fraction of streams going to ``target``."""
        return target.weight / self._cumulative[-1]


class PlanCursor:
    """Where one user is in the plan's sequence; users start at different places."""

    __slots__ = ("_index", "_sequence")

    def __init__(self, sequence: Sequence[StreamTarget], start: int) -> None:
        self._sequence = sequence
        self._index = start % len(sequence)

    def next(self) -> StreamTarget:
        """The next target of this user."""
        target = self._sequence[self._index]
        self._index = (self._index + 1) % len(self._sequence)
        return target


def simulator_flows(profile_flows: Mapping[str, object]) -> tuple[FlowConfig, ...]:
    """FlowConfigs for every flow of a simulator profile (used when the scenario lists none)."""
    flows = []
    for flow in profile_flows.values():
        name = str(getattr(flow, "name", ""))
        flow_id = str(getattr(flow, "id", ""))
        fmt = _PROFILE_FORMATS.get(str(getattr(flow, "format", "json")))
        flows.append(FlowConfig(name=name or flow_id, id=flow_id, format=fmt))
    return tuple(flows)


def build_plan(
    scenario: Scenario,
    target: FlowTarget,
    keys: Mapping[Env, ApiKey | None],
    flows: Sequence[FlowConfig] | None = None,
) -> StreamPlan:
    """Every configured env crossed with every flow (``flows`` overrides the scenario's)."""
    chosen = tuple(flows) if flows is not None else scenario.flows
    targets = [
        StreamTarget(
            env=env.env,
            flow=flow,
            request=build_stream_request(
                target,
                flow.id,
                env.env,
                keys.get(env.env),
                scenario.auth,
                flow.body,
                method=flow.method,
                extra_headers=flow.headers,
            ),
            weight=env.weight * flow.weight,
        )
        # Flow-major: neighbours in the round robin differ in env, so envs interleave.
        for flow in chosen
        for env in scenario.envs
    ]
    return StreamPlan(targets)
