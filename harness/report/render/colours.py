"""One colour per env on every page: report, comparison, capacity and the web UI's Streaming tab.

Kept free of matplotlib so the Locust process can use it without importing a plotting stack.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

ENV_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # matplotlib's tab10, fixed here: stable colours

# The Flow envs keep their colour on every page, whatever order or subset of envs a run has;
# any other name gets one of the remaining colours by its name.
FLOW_ENV_COLOURS = {"Production": ENV_PALETTE[0], "Test": ENV_PALETTE[1],
                    "Development": ENV_PALETTE[2]}  # fmt: skip
_OTHER_COLOURS = ENV_PALETTE[3:]


def env_colour(env: str) -> str:
    """The colour of ``env``, the same on every page and in every run."""
    known = FLOW_ENV_COLOURS.get(env)
    if known is not None:
        return known
    return _OTHER_COLOURS[zlib.crc32(env.encode("utf-8")) % len(_OTHER_COLOURS)]


def env_colours(envs: Iterable[str]) -> dict[str, str]:
    """Each env's colour (:func:`env_colour`), keyed in the given order."""
    return {env: env_colour(env) for env in envs}
