"""``python -m harness.cli``: the same as ``flowload``."""

import sys

from harness.cli.dispatch import main

sys.exit(main())
