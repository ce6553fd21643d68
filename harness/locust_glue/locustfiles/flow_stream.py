"""Load-test Flow "Run streaming" endpoints: ``locust -f locustfiles/flow_stream.py``.

With no --host and no [target] in --flow-config, the bundled simulator starts on loopback.
Options: --flow-config, --flow-env, --report-dir, --api-key-mode, --stall-timeout, --limit,
--insecure, --gate ... (``flowload options`` lists them all: Locust prints ``--help`` before it
reads a locustfile).
"""

from harness.locust_glue import install
from harness.locust_glue.user import FlowStreamUser

install()

__all__ = ["FlowStreamUser"]
