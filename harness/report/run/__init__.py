"""The report of one run: ``report.html``, ``summary.md``, ``stats.csv`` and the console table."""
