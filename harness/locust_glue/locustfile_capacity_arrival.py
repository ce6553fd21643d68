"""Packaged capacity locustfile, open-loop arrival rate (``flowload capacity`` runs it).

The same as ``locustfiles/capacity_arrival.py``, inside the package so an installed flowload
has it too.
"""

from harness.locust_glue import install
from harness.locust_glue.capacity import ArrivalFlowUser, ArrivalShape

install()

__all__ = ["ArrivalFlowUser", "ArrivalShape"]
