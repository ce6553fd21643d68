"""Packaged capacity locustfile, closed loop (``flowload capacity`` runs it with ``-f``).

The same as ``locustfiles/capacity_stepped.py``, inside the package so an installed flowload
has it too.
"""

from harness.locust_glue import install
from harness.locust_glue.capacity import SteppedFlowUser, SteppedShape

install()

__all__ = ["SteppedFlowUser", "SteppedShape"]
