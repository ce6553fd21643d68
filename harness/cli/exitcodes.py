"""Process exit codes of flowload runs (documented in the README)."""

from __future__ import annotations

EXIT_OK = 0
# 1 and 2 are Locust's own: 1 when requests failed (--exit-code-on-error), 2 on an unhandled error.
EXIT_USAGE = 2  # a flowload subcommand was given a bad command line
EXIT_COULD_NOT_RUN = 3  # bad config, unknown env, missing key, unreachable target
EXIT_GATES_FAILED = 4  # a performance gate failed
EXIT_INCONCLUSIVE = 5  # the run cannot be trusted (generator saturated, too few streams)
