"""The capacity report: ``capacity.html``, ``capacity.md``, the console table, its plots."""
