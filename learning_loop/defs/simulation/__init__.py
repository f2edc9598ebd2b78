"""Simulation: the closed-loop simulator's report asset (issue 5)."""
