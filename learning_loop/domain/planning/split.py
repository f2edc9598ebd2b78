"""The exploit/explore split, the ruler rotation over a recipe pool, and deterministic ids."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from fractions import Fraction

import numpy as np

from learning_loop.domain.planning.request import DEFAULT_EXPLORE_RATIO, PlanRequest, format_as_of


def split_counts(n: int, explore_ratio: float = DEFAULT_EXPLORE_RATIO) -> tuple[int, int]:
    """``(n_exploit, n_explore)`` with ``n_explore = floor(n * ratio + 1/2)``, exactly."""
    ratio = Fraction(repr(float(explore_ratio)))
    n_explore = math.floor(n * ratio + Fraction(1, 2))
    return n - n_explore, n_explore


def slot_modes(request: PlanRequest, n_topics: int, explorable: bool) -> tuple[np.ndarray, np.random.Generator, bool]:
    """Which of the batch's ``min(count, n_topics)`` job slots explore: the exact split in a seeded
    random order (so topic order is not confounded with the mode), and the planner's generator after
    drawing it. Without an explorable baseline every slot exploits (third value True)."""
    m = min(request.count, n_topics)
    n_exploit, n_explore = split_counts(m, request.explore_ratio)
    forced = bool(n_explore and not explorable)
    if forced:
        n_exploit, n_explore = m, 0
    rng = np.random.default_rng(request.seed)
    slots = np.array([True] * n_explore + [False] * n_exploit, dtype=bool)[rng.permutation(m)]
    return slots, rng, forced


def ruler_index(j: int, k: int) -> int:
    """0-based pool index for the j-th (0-based) job: 0, 1, 0, 2, 0, 1, 0, 3, … capped at k-1."""
    x = j + 1
    return min((x & -x).bit_length() - 1, k - 1)


def sha16(*parts: object) -> str:
    """First 16 hex digits of SHA-256 over the parts joined by a unit separator."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


def experiment_id_for(project_id: str, baseline_hash: str, variant_hash: str, as_of: datetime) -> str:
    """Deterministic id of a new experiment (see the package docstring)."""
    return "exp_" + sha16("experiment", project_id, baseline_hash, variant_hash, format_as_of(as_of))


__all__ = ["experiment_id_for", "ruler_index", "sha16", "slot_modes", "split_counts"]
