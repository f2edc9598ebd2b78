"""Canaries: deployment state, the guard op job and its sensor, judge weights (contract §9.5, §9.6–9.8)."""
