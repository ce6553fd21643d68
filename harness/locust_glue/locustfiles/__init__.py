"""The locustfiles, inside the package so an installed flowload has them.

``locustfiles/`` at the top of the checkout re-exports these; ``flowload capacity`` runs the
capacity ones with ``locust -f``. Importing one installs flowload's Locust hooks.
"""
