"""Canaries: deployment state, the guard op job and its sensor, judge weights (SPEC §11, §12)."""
