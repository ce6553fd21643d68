"""``python -m harness.simulator``: the same as ``flowload simulate``."""

from harness.cli.simulator import main

raise SystemExit(main())
