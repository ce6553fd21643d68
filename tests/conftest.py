"""Test-session setup shared by every test module.

Locust monkey-patches the standard library with gevent when it is imported, and some test
modules import it. Patching here, before anything else, makes every test run in the same world
whichever modules a run collects (the harness itself runs under gevent in production anyway).
"""

from gevent import monkey

monkey.patch_all()
