"""Experiments: daily verdicts and the hourly A/B analysis (contract §7)."""
