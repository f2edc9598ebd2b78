"""Deterministic request routing between an agent's stable bundle and its canary (SPEC §11).

A request with key K goes to the canary iff
``int(sha256(agent + ":" + K)[:8], 16) % 100 < canary_percent`` — the serving
side can compute the same thing, so the warehouse and production agree on
which arm a request belongs to.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from learning_loop.domain.canaries.errors import CanaryError, is_integer

Arm = Literal["canary", "stable"]


def route_bucket(agent: str, key: str) -> int:
    """The request's bucket in [0, 100): ``int(sha256(agent + ":" + key)[:8], 16) % 100``."""
    digest = hashlib.sha256(f"{agent}:{key}".encode()).hexdigest()
    return int(digest[:8], 16) % 100


def route_arm(agent: str, key: str, canary_percent: int) -> Arm:
    """``"canary"`` iff the request's bucket is below ``canary_percent`` (0–100), else ``"stable"``."""
    if not is_integer(canary_percent):
        raise CanaryError(f"canary_percent must be an integer from 0 to 100, got {canary_percent!r}")
    if not 0 <= canary_percent <= 100:
        raise CanaryError(f"canary_percent must be from 0 to 100, got {canary_percent}")
    return "canary" if route_bucket(agent, key) < canary_percent else "stable"


__all__ = ["Arm", "route_arm", "route_bucket"]
