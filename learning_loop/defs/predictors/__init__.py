"""Predictors: engagement-rate ridge and follow-through logistic models per project (seed 004)."""
