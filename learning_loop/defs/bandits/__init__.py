"""Bandits: Beta-Bernoulli content arms and UCB1 timing arms per project (seed 004)."""
