"""The root of flowload's typed errors.

Library code raises subclasses of :class:`FlowloadError`; only entry points (the CLI and the
Locust glue) turn them into exit codes and messages.
"""

from __future__ import annotations


class FlowloadError(Exception):
    """Base class of every error flowload raises on purpose."""


class ConfigError(FlowloadError):
    """A scenario, option or environment value is invalid; the message says how to fix it."""
