"""learning-loop: a Dagster data platform that lets a content team learn from its own results."""

__version__ = "0.1.0"
