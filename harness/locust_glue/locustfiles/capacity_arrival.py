"""Capacity planning, open loop: streams start at ``[capacity] steps`` streams/s, step_s each.

    locust -f locustfiles/capacity_arrival.py --headless --flow-config examples/capacity.toml

Latencies are measured from each stream's intended start (coordinated-omission correction);
arrivals beyond ``max_in_flight`` are dropped and counted. In distributed mode each worker takes
an equal share of the rate.
"""

from harness.locust_glue import install
from harness.locust_glue.capacity import ArrivalFlowUser, ArrivalShape

install()

__all__ = ["ArrivalFlowUser", "ArrivalShape"]
