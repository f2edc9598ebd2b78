"""Core: outcomes, percentile rewards, recipe stats and the recipe registry, one asset per SQL model (contract §5)."""
