"""Experiment verdicts that stay valid under daily looking (SPEC §6).

Pure statistics: no Dagster, no database. Rewards are per-video percentile
rewards in [0, 1]; an experiment compares a baseline arm with a variant arm.

Method: normal-mixture confidence sequence
------------------------------------------
Verdicts are re-evaluated every day, so a fixed-sample test is not enough:
checking a t-test at 5 % every day for 28 days declares a winner in about
24–28 % of A/A experiments. Instead the effect (variant mean − baseline mean)
gets an *always-valid* confidence interval — a confidence sequence, which
covers the true effect at every look simultaneously with probability
``level`` — so looking daily, or at any other times, costs nothing.

With Welch standard error ``se`` (per-arm variances, see below) the interval is
``effect ± h`` with::

    h = se * sqrt((1 + se²/τ²) * (ln(1 + τ²/se²) + 2 ln(1/α)))      α = 1 − level

This is Robbins' normal-mixture boundary (Howard et al. 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences"; the mixture SPRT of
Johari et al. 2017). Why it is valid under peeking: for Gaussian rewards,
``I·(effect − true effect)`` with information ``I = 1/se²`` has independent
Gaussian increments in ``I`` whatever the daily arrival counts of each arm,
so the likelihood ratio mixed over alternatives ``N(0, τ²)`` is a
nonnegative martingale with mean 1, and Ville's inequality bounds the chance
that it *ever* exceeds ``1/α`` by ``α``. The boundary above is exactly where
that mixture ratio equals ``1/α``. Plugging in the sample variance makes this
an asymptotic confidence sequence (Waudby-Smith et al. 2024); the small-n
error is checked by simulation (tests and ``bench/bench_verdicts.py``).

* ``statistic`` is that log mixture likelihood ratio against zero effect
  (``ln E``); the experiment is significant iff ``statistic ≥ ln(1/α)``,
  which is the same as the interval excluding 0; it is 0 (no evidence) while
  an arm has fewer than 2 videos. ``min(1, exp(-statistic))`` is an
  always-valid p-value.
* ``mde`` is ``h``: the smallest |effect| that would be declared significant
  at the current n and variance.
* Each arm's variance is shrunk toward 1/12 (the variance of a uniform
  percentile) with the weight of one video: ``(SS + 1/12) / n``. This keeps
  ``se > 0`` when rewards tie and damps over-confident decisions at n≈5.
* ``τ = 0.1`` (the mixture's prior scale of the effect) puts the tightest
  part of the boundary at the information reached after 28 days of about
  3 videos per arm per day (se ≈ 0.045), i.e. where the smallest effects
  can be found.

Measured (``bench/bench_verdicts.py``, 5000 experiments each) with ~3 videos
per arm per day (Poisson arrivals), min 5 per arm, daily looks for 28 days,
level 0.95: A/A false-positive rate 0.012–0.017 for uniform, bimodal and
skewed rewards (a naive daily Welch t-test on the same data: ≈ 0.25). Power
for the stated effect of 0.25 (baseline mean 0.45 → variant 0.70, per-video
sd 0.2) is 1.00, usually decided within a week; smaller effects at sd 0.29
are found with power ≈ 0.69 (0.15) and ≈ 0.30 (0.10) — the price of looking
every day.

Rules: no verdict until both arms have ``min_n_per_arm`` videos; a winner as
soon as the interval excludes 0; undecided after ``max_duration_days`` →
completed, inconclusive; a completed verdict never changes. The rules are
frozen onto the experiment when it is created (``ExperimentRules``).

Modules: ``rules`` (ExperimentRules, parse_level), ``verdict`` (Verdict, the
mixture confidence sequence, evaluate_verdict) and ``power`` (simulated
false-positive rate and power).
"""

from __future__ import annotations

from learning_loop.domain.experiments.power import (
    NAIVE_METHOD,
    UNIFORM_SD,
    beta_from_moments,
    simulate_false_positive_rate,
    simulate_power,
)
from learning_loop.domain.experiments.rules import DEFAULT_LEVEL, LEVEL_ENV_VAR, ExperimentRules, parse_level
from learning_loop.domain.experiments.verdict import (
    METHOD,
    MIXTURE_SD,
    PRIOR_VARIANCE,
    DecidedReason,
    Status,
    Verdict,
    Winner,
    evaluate_verdict,
    mixture_half_width,
    mixture_log_evalue,
)

__all__ = [
    "DEFAULT_LEVEL",
    "LEVEL_ENV_VAR",
    "METHOD",
    "MIXTURE_SD",
    "NAIVE_METHOD",
    "PRIOR_VARIANCE",
    "UNIFORM_SD",
    "DecidedReason",
    "ExperimentRules",
    "Status",
    "Verdict",
    "Winner",
    "beta_from_moments",
    "evaluate_verdict",
    "mixture_half_width",
    "mixture_log_evalue",
    "parse_level",
    "simulate_false_positive_rate",
    "simulate_power",
]
