"""Dagster definitions, one module per stage. Thin: read inputs, call the core, write tables."""
