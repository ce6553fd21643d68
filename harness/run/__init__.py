"""One load-test run, without Locust: what to send, how to measure a stream, what to record.

- :mod:`~harness.run.request_mix`: every (env, flow) pair with its weight and prepared request;
- :mod:`~harness.run.measure`: one stream, from request to exactly one outcome;
- :mod:`~harness.run.redirects`: redirects followed the way a load test should;
- :mod:`~harness.run.failfast`: stop a run whose first streams all failed the same unfixable way;
- :mod:`~harness.run.health`: can this run's item times be trusted, and if not, why;
- :mod:`~harness.run.resolve`: scenario and host to a resolved run (target, mix, transport);
- :mod:`~harness.run.session`: one process's part of a run, recording only.
"""
