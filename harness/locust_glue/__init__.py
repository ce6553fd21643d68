"""The Locust glue: the only part of flowload that imports ``locust``.

A locustfile needs two lines (see ``locustfiles/flow_stream.py``)::

    from harness.locust_glue import FlowStreamUser, install
    install()
"""

from __future__ import annotations

from typing import Any

from locust import events as default_events

from harness.locust_glue import distributed, lifecycle
from harness.locust_glue.gating import add_gate_options
from harness.locust_glue.live import install_live
from harness.locust_glue.options import add_options
from harness.locust_glue.state import state_of
from harness.locust_glue.user import FlowStreamUser
from harness.locust_glue.webui import install_web_ui

__all__ = ["FlowStreamUser", "install", "state_of"]

_INSTALLED: set[int] = set()


def _on_init(environment: Any, web_ui: Any = None, **kw: Any) -> None:
    lifecycle.on_init(environment, **kw)
    events = environment.events
    events.report_to_master.add_listener(distributed.make_report_to_master_listener(environment))
    events.worker_report.add_listener(distributed.make_worker_report_listener(environment))
    install_live(environment, web_ui=web_ui is not None)
    if web_ui is not None:
        install_web_ui(environment, web_ui)


def install(events: Any = None) -> None:
    """Register flowload's options and listeners on Locust's events (once per events object)."""
    hooks = events or default_events
    if id(hooks) in _INSTALLED:
        return
    _INSTALLED.add(id(hooks))
    hooks.init_command_line_parser.add_listener(add_options)
    hooks.init_command_line_parser.add_listener(add_gate_options)
    hooks.init.add_listener(_on_init)
    hooks.test_start.add_listener(lifecycle.on_test_start)
    hooks.spawning_complete.add_listener(lifecycle.on_spawning_complete)
    hooks.test_stopping.add_listener(lifecycle.on_test_stopping)
    hooks.test_stop.add_listener(lifecycle.on_test_stop)
    hooks.quitting.add_listener(lifecycle.on_quitting)
    hooks.quit.add_listener(lifecycle.on_quit)
