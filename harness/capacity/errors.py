"""Typed errors of the capacity analysis."""

from __future__ import annotations

from harness.errors import FlowloadError


class CapacityError(FlowloadError):
    """Step results or an SLO are invalid; the message says what is wrong and how to fix it."""


class InsufficientDataError(CapacityError):
    """The steps are valid but too few (or too flat) for this analysis to say anything."""
