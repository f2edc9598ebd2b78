"""Functional core: formulas, planners, statistics and bandit math. No Dagster imports here."""
