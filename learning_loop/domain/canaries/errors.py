"""The one error type of the canary core, and the integer check its inputs share."""

from __future__ import annotations

import numbers


class CanaryError(ValueError):
    """An invalid canary action or argument. ``str(error)`` is a one-line message."""


def is_integer(value: object) -> bool:
    """True for ints and numpy integers (as read from a table), False for bools and floats."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


__all__ = ["CanaryError", "is_integer"]
