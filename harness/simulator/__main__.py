"""``python -m harness.simulator``: the same as ``flowload simulate``."""

from harness.simulator.cli import main

raise SystemExit(main())
