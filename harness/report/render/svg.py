"""Turn matplotlib figures into small SVG fragments that can be inlined in one HTML page."""

from __future__ import annotations

import io
import re
from typing import Any

_NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
_GEOMETRY_ATTR = re.compile(r'\b(d|points|x|y|x1|x2|y1|y2|transform|width|height)="([^"]*)"')
_ID_REFS = re.compile(r'(\bid="|url\(#|href="#)([A-Za-z_][\w.-]*)')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_REFERENCED = re.compile(r'(?:url\(#|href="#)([A-Za-z_][\w.-]*)')
_ANY_ID = re.compile(r' id="([^"]*)"')
_NO_ROTATION = re.compile(r' transform="rotate\(-?0 [^")]*\)"')
_BETWEEN_TAGS = re.compile(r">\s+<")
_SPACES = re.compile(r"\s*\n\s*")


def _round(match: re.Match[str]) -> str:
    text = f"{float(match.group(0)):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _round_attr(match: re.Match[str]) -> str:
    # 0.1 px is far below what a screen or printer shows; full precision triples the size.
    return f'{match.group(1)}="{_NUMBER.sub(_round, match.group(2))}"'


def compact_svg(svg: str, prefix: str) -> str:
    """Strip the XML prolog and metadata, round geometry to 0.1 px, make ids unique with prefix.

    Ids must be unique across the page: two figures with the same axes geometry would otherwise
    share clip-path ids and clip each other's lines.
    """
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    body = _METADATA.sub("", body)
    body = _COMMENT.sub("", body)
    body = _GEOMETRY_ATTR.sub(_round_attr, body)
    # Matplotlib names every group; only ids something points at are needed.
    used = set(_REFERENCED.findall(body))
    body = _ANY_ID.sub(lambda m: m.group(0) if m.group(1) in used else "", body)
    body = _NO_ROTATION.sub("", body)
    body = _SPACES.sub(" ", _BETWEEN_TAGS.sub("><", body))
    body = _ID_REFS.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", body)
    return body.strip()


def figure_svg(figure: Any, prefix: str) -> str:
    """Render a matplotlib figure to a compact inline SVG string and close it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot only after the Agg backend is set

    buffer = io.StringIO()
    try:
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    finally:
        plt.close(figure)
    return compact_svg(buffer.getvalue(), prefix)
