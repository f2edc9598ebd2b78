"""Baseline policies that live in the same world as the platform (pure, in-process).

Both baselines plan the same number of videos per day as the platform was
asked for, on the same topics, and their i-th video of a day gets the same
noise as the platform's i-th video (common random numbers, see ``world.py``).
Each observes only its *own* videos, with the same delay as the platform: a
video counts once its ~6 h snapshot exists before the planning day starts
(the as-of rule T = day 00:00 UTC), and its observed reward is the noisy
realised reward ``sigmoid(realised logit)``.

- **uniform** — every field of the recipe, the content type and the posting
  hour uniformly at random. The floor any learner must beat.
- **seeds_policy** — the fixed policy of the original system (seeds 000–004):
  70/30 split with ``n_explore = floor(0.3 n + 1/2)`` (seeded slot order);
  exploit = the recipe with the highest *raw* average observed reward over its
  videos of the last 30 days (no shrinkage, so one lucky video wins); explore =
  that recipe with one field, chosen uniformly, set to a uniformly chosen
  other value (presets only among presets already seen). Content type and
  posting hour follow seed 004 as the platform does: Thompson sampling over
  content arms and UCB1 over timing arms, from the last 7 days of its own
  mature videos with success = engagement rate > 0.03 (the platform's pure
  functions in :mod:`learning_loop.domain.bandits`), so the comparison with
  the platform isolates the recipe policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from learning_loop.domain import bandits
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS, recipe_hash
from learning_loop.simulate.world import HOURS, World, publication_time

REWARD_WINDOW_DAYS = 30
ARM_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Choice:
    """One planned video of a baseline."""

    recipe: dict[str, Any]
    content_type: str
    hour: int
    mode: str  # exploit | explore


@dataclass(frozen=True)
class Observation:
    """One of the policy's own published videos, as it can later observe it."""

    recipe: dict[str, Any]
    recipe_hash: str
    content_type: str
    hour: int
    published_at: datetime
    mature_at: datetime | None
    reward: float
    engagement_rate: float


def visible(history: Sequence[Observation], t: datetime, window_days: int) -> list[Observation]:
    """Observations mature before ``t`` and published in ``[t - window_days, t)``."""
    start = t - timedelta(days=window_days)
    return [o for o in history if o.mature_at is not None and o.mature_at < t and start <= o.published_at < t]


def random_recipe(world: World, rng: np.random.Generator) -> dict[str, Any]:
    recipe: dict[str, Any] = {}
    for name in RECIPE_FIELDS:
        values = world.presets if name == "preset" else ALLOWED_VALUES[name]
        recipe[name] = values[int(rng.integers(0, len(values)))]
    recipe["scene_count"] = int(recipe["scene_count"])
    return recipe


class UniformPolicy:
    name = "uniform"

    def __init__(self, world: World) -> None:
        self.world = world

    def plan(self, n: int, t: datetime, history: Sequence[Observation], rng: np.random.Generator) -> list[Choice]:
        types = self.world.content_types
        return [
            Choice(
                random_recipe(self.world, rng),
                types[int(rng.integers(0, len(types)))],
                int(rng.integers(0, 24)),
                "explore",
            )
            for _ in range(n)
        ]


def best_raw_average(observations: Sequence[Observation]) -> dict[str, Any] | None:
    """The recipe with the highest raw average observed reward (ties: lower recipe_hash)."""
    sums: dict[str, list] = {}
    for o in observations:
        acc = sums.setdefault(o.recipe_hash, [0.0, 0, o.recipe])
        acc[0] += o.reward
        acc[1] += 1
    if not sums:
        return None
    best = min(sums, key=lambda h: (-sums[h][0] / sums[h][1], h))
    return dict(sums[best][2])


def uniform_mutation(recipe: dict[str, Any], presets: Sequence[str], rng: np.random.Generator) -> dict[str, Any]:
    """Exactly one field, chosen uniformly among the mutable ones, set to a uniformly chosen other value."""
    options = {
        name: [v for v in (presets if name == "preset" else ALLOWED_VALUES[name]) if v != recipe[name]]
        for name in RECIPE_FIELDS
    }
    fields = [name for name in RECIPE_FIELDS if options[name]]
    name = fields[int(rng.integers(0, len(fields)))]
    values = options[name]
    mutated = dict(recipe)
    mutated[name] = values[int(rng.integers(0, len(values)))]
    mutated["scene_count"] = int(mutated["scene_count"])
    return mutated


class SeedsPolicy:
    """The seeds' fixed policy (see the module docstring)."""

    name = "seeds_policy"

    def __init__(self, world: World, explore_ratio: float = 0.3) -> None:
        self.world = world
        self.explore_ratio = explore_ratio

    def _context(self, n: int, t: datetime, history: Sequence[Observation], rng: np.random.Generator):
        recent = visible(history, t, ARM_WINDOW_DAYS)
        frame = pd.DataFrame(
            {
                "project_id": ["sim"] * len(recent),
                "content_type": [o.content_type for o in recent],
                "published_at": [o.published_at for o in recent],
                "engagement_rate": [o.engagement_rate for o in recent],
            }
        )
        types = self.world.content_types
        arms = bandits.arm_table(frame) if recent else pd.DataFrame()
        content = arms[arms["arm_type"] == "content"] if not arms.empty else arms
        if content.empty:
            picks = [types[int(rng.integers(0, len(types)))] for _ in range(n)]
        else:
            picks = [bandits.arm_content_type(a) for a in bandits.thompson_select(content, n, rng)]
        timing = arms[arms["arm_type"] == "timing"] if not arms.empty else arms
        if timing.empty:
            timing = pd.DataFrame({"hour": list(HOURS), "pulls": [0] * 24, "successes": [0] * 24})
        hours = [int(h) for h in bandits.ucb1_select(timing, n)]
        return picks, hours

    def plan(self, n: int, t: datetime, history: Sequence[Observation], rng: np.random.Generator) -> list[Choice]:
        seen = visible(history, t, REWARD_WINDOW_DAYS)
        top = best_raw_average(seen)
        n_explore = int(np.floor(n * self.explore_ratio + 0.5)) if top is not None else 0
        explore_slots = set(int(i) for i in rng.permutation(n)[:n_explore])
        presets = sorted({o.recipe["preset"] for o in history}) or list(self.world.presets)
        content, hours = self._context(n, t, history, rng)
        choices = []
        for i in range(n):
            if top is None:
                recipe, mode = random_recipe(self.world, rng), "exploit"
            elif i in explore_slots:
                recipe, mode = uniform_mutation(top, presets, rng), "explore"
            else:
                recipe, mode = dict(top), "exploit"
            choices.append(Choice(recipe, content[i], hours[i], mode))
        return choices


def observe(world: World, day_index: int, slot: int, choice: Choice, day: date) -> tuple[Observation, float]:
    """Publish one baseline video on ``day`` (the ``slot``-th of day ``day_index``): what the policy will
    observe of it, and its true reward."""
    real = world.realise(day_index, slot, choice.recipe, choice.content_type, choice.hour)
    published_at = publication_time(day, choice.hour, real.minute)
    mature = real.mature_after_hours()
    obs = Observation(
        recipe=dict(choice.recipe),
        recipe_hash=recipe_hash(choice.recipe),
        content_type=choice.content_type,
        hour=choice.hour,
        published_at=published_at,
        mature_at=None if mature is None else published_at + timedelta(hours=mature),
        reward=real.observed_reward,
        engagement_rate=real.engagement_rate,
    )
    return obs, real.true_reward
