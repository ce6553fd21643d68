"""Capacity planning, closed loop: steps of N users (``[capacity] steps``), step_s each.

    locust -f locustfiles/capacity_stepped.py --headless --flow-config examples/capacity.toml

``flowload capacity`` runs this for you and adds the analysis and the capacity report.
"""

from harness.locust_glue.locustfiles.capacity_stepped import SteppedFlowUser, SteppedShape

__all__ = ["SteppedFlowUser", "SteppedShape"]
