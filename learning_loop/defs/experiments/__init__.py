"""Experiments: daily verdicts and the hourly A/B analysis (SPEC §6)."""
