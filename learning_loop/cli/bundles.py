"""Operator commands of runbook 003 (bundles); filled in by its issue."""

from __future__ import annotations

from learning_loop.cli.common import AddCommand


def register(add: AddCommand) -> None:
    """No commands yet."""
