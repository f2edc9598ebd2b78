"""The simulated world: hidden ground truth the platform has to discover (pure, seeded).

**True reward.** A video made with recipe r, content type c and posting hour h
(UTC) has the true logit::

    logit(r, c, h) = base + sum over the six recipe fields f of effect_f(r.f)
                          + effect_content(c) + effect_hour(h)

and the true reward ``sigmoid(logit)`` in (0, 1). Effects are drawn once per
world from its seed: recipe field values and content types independently from
``N(0, sd)``; the hour effect is a smooth daily cycle
``amplitude * cos(2*pi*(h - peak)/24)`` with a random peak hour. Because the
logit is additive and the sigmoid increasing, the **oracle** (the best
(recipe, content type, hour)) takes the best value of every factor separately;
:meth:`World.oracle` computes it exactly, no search.

**One video.** A published video realises ``q = logit + quality_weight *
(quality_score - 0.5) * 2 + N(0, noise_sd)``: video-to-video noise plus the
production quality of that particular video. Its metrics are all increasing in
``q`` with a little metric-specific noise, so percentile ranks of average view
duration, views at 6 h and engagement rate track the realised quality:

- final views ``V = exp(views_log_scale + q + e1)``; cumulative views at t hours
  after publication ``V * (1 - exp(-t / view_growth_hours))``;
- average view duration ``clip(22 + 8 q + 8 e2, 2, 58)`` seconds;
- engagement rate ``0.03 * exp(0.6 q + e3)`` (likes 85 %, comments 15 %), so
  the platform's bandit threshold (0.03) splits videos near the average;
- followers gained at rate ``exp(-9.5 + 2 novelty + expertise + viral/100 + 0.3 q)``
  per view (so follow-through is neither always nor never);

with ``e1, e2, e3 ~ N(0, metric_noise_sd)``. All counters are floors of
increasing functions of the cumulative views, so every snapshot is consistent
(never decreasing).

**Snapshots** are taken at ``snapshot_hours`` (default ~1 h, ~6 h, ~24 h,
~48 h, ~72 h) after publication, each multiplied by a jitter factor uniform in
``[1 - jitter, 1 + jitter]``; each is missed with probability
``missing_snapshot_prob``.

**Randomness.** Every video's draws come from its own generator, seeded by
(world seed, day index, slot), and are drawn in a fixed order independent of
the recipe. So different policies that publish their i-th video of day d get
the *same* noise (common random numbers): their comparison is not blurred by
luck, and the same seed always gives the same world and the same videos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS

#: Factors of the true reward: the six recipe fields, then content type and posting hour.
FACTORS: tuple[str, ...] = (*RECIPE_FIELDS, "content_type", "hour")
HOURS: tuple[int, ...] = tuple(range(24))
DEFAULT_PRESETS: tuple[str, ...] = ("DARK_DYSTOPIAN_ANIME", "NEON_NOIR", "WHITEBOARD_SKETCH")
DEFAULT_CONTENT_TYPES: tuple[str, ...] = ("educational", "factual", "story", "trending")
#: Offset that keeps day indices (negative during warm-up) non-negative for SeedSequence.
_DAY_OFFSET = 100_000
_STREAM_EFFECTS = 1
_STREAM_VIDEO = 2


#: Hour (UTC) at which a day's batch is planned; see :func:`publication_time`.
PLAN_HOUR = 6


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def publication_time(day: date, hour: int, minute: int = 0, plan_hour: int = PLAN_HOUR) -> datetime:
    """When a video planned on ``day`` (at ``plan_hour`` UTC) for posting hour ``hour`` goes out: the
    first ``hour:minute`` at or after the planning moment — the same day for hours from ``plan_hour``
    on, the next day for earlier hours. Naive UTC."""
    if not 0 <= int(hour) <= 23:
        raise ValueError(f"posting hour must be within 0-23, got {hour}")
    start = datetime.combine(day, time()) + timedelta(hours=int(hour), minutes=int(minute))
    return start if int(hour) >= plan_hour else start + timedelta(days=1)


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of a generated world. Same config (with its seed) → same world."""

    seed: int = 1
    presets: tuple[str, ...] = DEFAULT_PRESETS
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    base_logit: float = 0.0
    field_effect_sd: float = 0.3  # sd of each recipe field value's effect (logit scale)
    content_effect_sd: float = 0.3
    hour_amplitude: float = 0.3  # amplitude of the daily cycle
    noise_sd: float = 0.5  # video-to-video noise of the realised logit
    quality_weight: float = 0.5  # realised logit moves by ±quality_weight from production quality
    metric_noise_sd: float = 0.1
    snapshot_hours: tuple[float, ...] = (1.0, 6.0, 24.0, 48.0, 72.0)
    snapshot_jitter: float = 0.15
    missing_snapshot_prob: float = 0.05
    views_log_scale: float = 8.0
    view_growth_hours: float = 18.0

    def __post_init__(self) -> None:
        if not self.presets or not self.content_types:
            raise ValueError("a world needs at least one preset and one content type")
        for name in ("field_effect_sd", "content_effect_sd", "hour_amplitude", "noise_sd", "metric_noise_sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative")
        if not 0 <= self.snapshot_jitter < 0.5:
            raise ValueError("snapshot_jitter must be within [0, 0.5)")
        if not 0 <= self.missing_snapshot_prob < 1:
            raise ValueError("missing_snapshot_prob must be within [0, 1)")


@dataclass(frozen=True)
class Oracle:
    """The best (recipe, content type, hour) of a world and its true reward."""

    recipe: dict[str, Any]
    content_type: str
    hour: int
    logit: float
    reward: float


@dataclass(frozen=True)
class Snapshot:
    offset_hours: float
    views: int
    likes: int
    comments: int
    avg_view_duration_s: float
    followers_gained: int
    shares: int


@dataclass(frozen=True)
class Realisation:
    """What one published video turned out to be."""

    true_logit: float
    true_reward: float
    realised_logit: float
    quality_score: float
    novelty_score: float
    expertise_level: float
    viral_score: float
    minute: int  # minute within the posting hour
    final_views: float
    avg_view_duration_s: float
    engagement_rate: float
    follow_rate: float
    snapshots: tuple[Snapshot, ...]

    @property
    def observed_reward(self) -> float:
        """The noisy realised reward a simple policy observes: sigmoid of the realised logit."""
        return sigmoid(self.realised_logit)

    def mature_after_hours(self, horizon: float = 6.0) -> float | None:
        """Hours after publication of the first snapshot at or after ``horizon`` (when views_6h is known)."""
        for snap in self.snapshots:
            if snap.offset_hours >= horizon:
                return snap.offset_hours
        return None

    def snapshot_rows(self, published_at: datetime) -> list[dict[str, Any]]:
        return [
            {
                "observed_at": published_at + timedelta(hours=s.offset_hours),
                "views": s.views,
                "likes": s.likes,
                "comments": s.comments,
                "avg_view_duration_s": s.avg_view_duration_s,
                "followers_gained": s.followers_gained,
                "shares": s.shares,
            }
            for s in self.snapshots
        ]


def _normalise(factor: str, value: Any) -> Any:
    if factor in ("scene_count", "hour"):
        return int(value)
    return str(value)


@dataclass(frozen=True)
class World:
    """Hidden effects per factor value (``effects[factor][value]``, logit scale) and the noise model.

    The domain of a factor is the keys of its effects mapping, in order. Build a
    generated world with :meth:`from_config`, or a hand-made one directly.
    """

    effects: Mapping[str, Mapping[Any, float]]
    base_logit: float = 0.0
    seed: int = 0
    noise_sd: float = 0.5
    quality_weight: float = 0.5
    metric_noise_sd: float = 0.1
    snapshot_hours: tuple[float, ...] = (1.0, 6.0, 24.0, 48.0, 72.0)
    snapshot_jitter: float = 0.15
    missing_snapshot_prob: float = 0.05
    views_log_scale: float = 8.0
    view_growth_hours: float = 18.0
    _oracle: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [f for f in FACTORS if not self.effects.get(f)]
        if missing:
            raise ValueError(f"a world needs effects for every factor; missing: {', '.join(missing)}")
        normalised = {f: {_normalise(f, v): float(e) for v, e in self.effects[f].items()} for f in FACTORS}
        object.__setattr__(self, "effects", normalised)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_config(cls, config: WorldConfig | None = None) -> "World":
        cfg = config or WorldConfig()
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _STREAM_EFFECTS]))
        domains: dict[str, tuple] = {"preset": tuple(cfg.presets), **ALLOWED_VALUES}
        effects: dict[str, dict[Any, float]] = {}
        for name in RECIPE_FIELDS:
            values = domains[name]
            effects[name] = dict(zip(values, (float(x) for x in rng.normal(0.0, cfg.field_effect_sd, len(values)))))
        effects["content_type"] = dict(
            zip(cfg.content_types, (float(x) for x in rng.normal(0.0, cfg.content_effect_sd, len(cfg.content_types))))
        )
        peak = float(rng.uniform(0.0, 24.0))
        effects["hour"] = {h: cfg.hour_amplitude * math.cos(2 * math.pi * (h - peak) / 24.0) for h in HOURS}
        return cls(
            effects=effects,
            base_logit=cfg.base_logit,
            seed=cfg.seed,
            noise_sd=cfg.noise_sd,
            quality_weight=cfg.quality_weight,
            metric_noise_sd=cfg.metric_noise_sd,
            snapshot_hours=tuple(float(h) for h in cfg.snapshot_hours),
            snapshot_jitter=cfg.snapshot_jitter,
            missing_snapshot_prob=cfg.missing_snapshot_prob,
            views_log_scale=cfg.views_log_scale,
            view_growth_hours=cfg.view_growth_hours,
        )

    # ------------------------------------------------------------------ truth
    def domain(self, factor: str) -> tuple:
        return tuple(self.effects[factor])

    @property
    def presets(self) -> tuple[str, ...]:
        return self.domain("preset")

    @property
    def content_types(self) -> tuple[str, ...]:
        return self.domain("content_type")

    def effect(self, factor: str, value: Any) -> float:
        try:
            return self.effects[factor][_normalise(factor, value)]
        except (KeyError, ValueError, TypeError):
            raise KeyError(f"the world has no {factor} value {value!r}") from None

    def true_logit(self, recipe: Mapping[str, Any], content_type: str, hour: int) -> float:
        total = self.base_logit + sum(self.effect(f, recipe[f]) for f in RECIPE_FIELDS)
        return total + self.effect("content_type", content_type) + self.effect("hour", hour)

    def true_reward(self, recipe: Mapping[str, Any], content_type: str, hour: int) -> float:
        return sigmoid(self.true_logit(recipe, content_type, hour))

    def oracle(self) -> Oracle:
        """Exact: the best value of every factor (first in domain order on ties)."""
        if self._oracle:
            return self._oracle[0]
        best = {}
        for factor in FACTORS:
            values = self.effects[factor]
            best[factor] = max(values, key=lambda v: values[v])  # max keeps the first of equal values
        recipe = {f: best[f] for f in RECIPE_FIELDS}
        logit = self.true_logit(recipe, best["content_type"], best["hour"])
        found = Oracle(recipe, best["content_type"], int(best["hour"]), logit, sigmoid(logit))
        self._oracle.append(found)
        return found

    def regret(self, recipe: Mapping[str, Any], content_type: str, hour: int) -> float:
        """Oracle reward minus the true reward of this choice (>= 0)."""
        return self.oracle().reward - self.true_reward(recipe, content_type, hour)

    def better_value(self, factor: str, a: Any, b: Any) -> int:
        """+1 when value ``b`` is truly better than ``a`` for ``factor``, -1 when worse, 0 when equal."""
        diff = self.effect(factor, b) - self.effect(factor, a)
        return (diff > 0) - (diff < 0)

    # ------------------------------------------------------------------ one video
    def video_rng(self, day_index: int, slot: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, _STREAM_VIDEO, day_index + _DAY_OFFSET, slot]))

    def realise(self, day_index: int, slot: int, recipe: Mapping[str, Any], content_type: str, hour: int) -> Realisation:
        """The ``slot``-th video of day ``day_index`` (common random numbers: the noise depends on
        (seed, day, slot) only, not on the recipe)."""
        rng = self.video_rng(day_index, slot)
        quality, novelty, expertise = (float(x) for x in rng.uniform(0.0, 1.0, 3))
        viral = float(rng.uniform(0.0, 100.0))
        eps = float(rng.standard_normal())
        e1, e2, e3 = (float(x) for x in rng.standard_normal(3))
        jitters = rng.uniform(1.0 - self.snapshot_jitter, 1.0 + self.snapshot_jitter, len(self.snapshot_hours))
        missed = rng.random(len(self.snapshot_hours)) < self.missing_snapshot_prob
        minute = int(rng.integers(0, 60))

        logit = self.true_logit(recipe, content_type, hour)
        q = logit + self.quality_weight * (quality - 0.5) * 2.0 + self.noise_sd * eps
        m = self.metric_noise_sd
        final_views = math.exp(self.views_log_scale + q + m * e1)
        avd = float(np.clip(22.0 + 8.0 * q + 8.0 * m * e2, 2.0, 58.0))
        engagement = 0.03 * math.exp(0.6 * q + m * e3)
        follow_rate = math.exp(-9.5 + 2.0 * novelty + expertise + viral / 100.0 + 0.3 * q)
        snapshots = []
        for hours, jitter, miss in zip(self.snapshot_hours, jitters, missed):
            if miss:
                continue
            t = round(float(hours * jitter), 4)
            growth = 1.0 - math.exp(-t / self.view_growth_hours)
            views = int(final_views * growth)
            snapshots.append(
                Snapshot(
                    offset_hours=t,
                    views=views,
                    likes=int(views * engagement * 0.85),
                    comments=int(views * engagement * 0.15),
                    avg_view_duration_s=round(avd * (0.97 + 0.03 * growth), 2),
                    followers_gained=int(views * follow_rate),
                    shares=int(views * 0.01),
                )
            )
        snapshots.sort(key=lambda s: s.offset_hours)
        return Realisation(
            true_logit=logit,
            true_reward=sigmoid(logit),
            realised_logit=q,
            quality_score=round(quality, 3),
            novelty_score=round(novelty, 3),
            expertise_level=round(expertise, 3),
            viral_score=round(viral, 1),
            minute=minute,
            final_views=final_views,
            avg_view_duration_s=avd,
            engagement_rate=engagement,
            follow_rate=follow_rate,
            snapshots=tuple(snapshots),
        )
