"""A table as plain rows of text: one source for the HTML and Markdown renderers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A header and rows of already formatted cells; ``note`` says what was left out."""

    header: list[str]
    rows: list[list[str]]
    note: str = ""
