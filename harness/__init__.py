"""flowload: a load-testing harness for streaming HTTP APIs (Flow "Run streaming").

The public surface is small on purpose; see the modules named below for details.
"""

from __future__ import annotations

from harness.errors import ConfigError, FlowloadError
from harness.results.stream import Outcome, StreamResult

__all__ = ["ConfigError", "FlowloadError", "Outcome", "StreamResult", "__version__"]
__version__ = "0.1.0"
