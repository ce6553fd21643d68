"""Comparing two runs: the analysis (significance, effect sizes) and its HTML and Markdown."""
