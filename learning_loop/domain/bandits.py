"""Bandit arms: Beta-Bernoulli posteriors, batch-aware Thompson sampling and UCB1.

Pure functions over pandas DataFrames; no Dagster, no database (issue 4, seed 004).

Arms
----
Every mature video of a project is one *pull* of two arms:

- a **content arm** ``content_<content_type>``; the content type is normalised
  by :func:`normalize_content_type` (lower-case, every character outside
  ``[a-z0-9_]`` becomes ``_``). A null, NaN, empty or whitespace-only content
  type becomes the arm ``content_unknown``;
- a **timing arm** ``timing_<HH>``: the two-digit UTC hour of ``published_at``.

A pull is a *success* when ``engagement_rate > success_threshold`` (strictly;
default 0.03), otherwise a failure.

Bad-values policy (documented, never a crash)
---------------------------------------------
- ``engagement_rate`` NaN, ±inf or non-numeric: the row is excluded from all
  counts (it is neither a success nor a failure). The number of excluded rows is
  reported in ``DataFrame.attrs["n_excluded"]`` of :func:`arm_table`'s result.
- ``published_at`` null or unparseable: the row still counts for its content
  arm but not for any timing arm. Naive timestamps are taken as UTC.
- ``project_id`` null: the row is ignored.
- Every project present in the input gets all 24 timing arms (untried hours
  have ``pulls = 0``), so UCB1 can try them first. Content arms exist only for
  content types that were observed.

Untried arms
------------
Untried timing arms have ``ucb1 = +inf`` and ``success_rate = NaN``; their
posterior is the Beta(1, 1) prior (``mean = 0.5``). :func:`ucb1_select` plays
every untried hour first (lowest hour first) before using the finite scores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_SUCCESS_THRESHOLD = 0.03
HOURS: tuple[int, ...] = tuple(range(24))
CONTENT_PREFIX = "content_"
TIMING_PREFIX = "timing_"
UNKNOWN_CONTENT_TYPE = "unknown"

#: Columns of :func:`arm_table`'s result, in order.
ARM_COLUMNS: tuple[str, ...] = (
    "project_id",
    "arm_type",
    "arm",
    "hour",
    "pulls",
    "successes",
    "failures",
    "success_rate",
    "alpha",
    "beta",
    "mean",
    "posterior_sd",
    "ucb1",
)

PseudoCount = Literal["failure", "mean"]

_NON_ARM_CHARS = re.compile(r"[^a-z0-9_]")


# --------------------------------------------------------------------------- names


def normalize_content_type(value: object) -> str:
    """Lower-case, strip, replace every character outside ``[a-z0-9_]`` by ``_``.

    Null, NaN, empty or whitespace-only values become ``"unknown"``.
    ``"Educational Thread"`` → ``"educational_thread"``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return UNKNOWN_CONTENT_TYPE
    text = str(value).strip().lower()
    if not text:
        return UNKNOWN_CONTENT_TYPE
    return _NON_ARM_CHARS.sub("_", text)


def content_arm(content_type: object) -> str:
    """Arm name of a content type: ``content_<normalised type>``."""
    return CONTENT_PREFIX + normalize_content_type(content_type)


def timing_arm(hour: int) -> str:
    """Arm name of a UTC hour: ``timing_HH``."""
    if not 0 <= int(hour) <= 23:
        raise ValueError(f"hour must be within 0-23, got {hour}")
    return f"{TIMING_PREFIX}{int(hour):02d}"


def arm_content_type(arm: str) -> str:
    """Inverse of :func:`content_arm`: ``content_educational`` → ``educational``."""
    if not arm.startswith(CONTENT_PREFIX):
        raise ValueError(f"not a content arm: {arm!r}")
    return arm[len(CONTENT_PREFIX) :]


def arm_hour(arm: str) -> int:
    """Inverse of :func:`timing_arm`: ``timing_07`` → 7."""
    if not arm.startswith(TIMING_PREFIX):
        raise ValueError(f"not a timing arm: {arm!r}")
    return int(arm[len(TIMING_PREFIX) :])


# --------------------------------------------------------------------------- arm table


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column, or an all-null object column when it is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype="object")


def _clean_outcomes(outcomes: pd.DataFrame, success_threshold: float) -> pd.DataFrame:
    """Rows with a project and a finite engagement rate, plus ``content_arm``, ``hour``, ``success``."""
    rate = pd.to_numeric(_column(outcomes, "engagement_rate"), errors="coerce").astype("float64")
    keep = np.isfinite(rate.to_numpy()) & outcomes["project_id"].notna().to_numpy()
    rows = outcomes.loc[keep]
    published = pd.to_datetime(_column(rows, "published_at"), utc=True, errors="coerce")
    return pd.DataFrame(
        {
            "project_id": rows["project_id"].to_numpy(),
            "content_arm": [content_arm(v) for v in _column(rows, "content_type")],
            "hour": published.dt.hour.astype("Int64").to_numpy(),
            "success": (rate.loc[keep] > success_threshold).to_numpy(),
        }
    )


def _count(clean: pd.DataFrame, key: str) -> pd.DataFrame:
    """pulls and successes per (project_id, key)."""
    grouped = clean.groupby(["project_id", key], dropna=True)["success"]
    return grouped.agg(pulls="size", successes="sum").reset_index()


def _content_arms(clean: pd.DataFrame) -> pd.DataFrame:
    counts = _count(clean, "content_arm").rename(columns={"content_arm": "arm"})
    counts["arm_type"] = "content"
    counts["hour"] = pd.array([pd.NA] * len(counts), dtype="Int64")
    return counts


def _timing_arms(clean: pd.DataFrame, projects: list) -> pd.DataFrame:
    """All 24 hours for every project, untried hours with zero pulls."""
    counts = _count(clean.dropna(subset=["hour"]), "hour")
    grid = pd.MultiIndex.from_product([projects, HOURS], names=["project_id", "hour"]).to_frame(index=False)
    counts["hour"] = counts["hour"].astype("int64")
    table = grid.merge(counts, on=["project_id", "hour"], how="left")
    table[["pulls", "successes"]] = table[["pulls", "successes"]].fillna(0)
    table["arm_type"] = "timing"
    table["arm"] = [timing_arm(h) for h in table["hour"]]
    table["hour"] = table["hour"].astype("Int64")
    return table


def ucb1_scores(successes: np.ndarray, pulls: np.ndarray) -> np.ndarray:
    """UCB1 = success_rate + sqrt(2 ln N / n), N = total pulls; +inf where n = 0."""
    successes = np.asarray(successes, dtype=float)
    pulls = np.asarray(pulls, dtype=float)
    total = pulls.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        bonus = np.sqrt(2.0 * np.log(max(total, 1.0)) / pulls)
        score = successes / pulls + bonus
    return np.where(pulls > 0, score, np.inf)


def _add_posterior(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["pulls"] = table["pulls"].astype("int64")
    table["successes"] = table["successes"].astype("int64")
    table["failures"] = table["pulls"] - table["successes"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["success_rate"] = table["successes"] / table["pulls"].where(table["pulls"] > 0)
    table["alpha"] = 1.0 + table["successes"]
    table["beta"] = 1.0 + table["failures"]
    table["mean"] = stats.beta.mean(table["alpha"], table["beta"])
    table["posterior_sd"] = stats.beta.std(table["alpha"], table["beta"])
    table["ucb1"] = np.nan
    timing = table["arm_type"] == "timing"
    for _, index in table[timing].groupby("project_id").groups.items():
        part = table.loc[index]
        table.loc[index, "ucb1"] = ucb1_scores(part["successes"].to_numpy(), part["pulls"].to_numpy())
    return table


def arm_table(outcomes: pd.DataFrame, success_threshold: float = DEFAULT_SUCCESS_THRESHOLD) -> pd.DataFrame:
    """Content and timing arms per project from mature outcomes.

    Input columns: ``project_id``, ``content_type`` (optional, may be null),
    ``published_at`` (UTC), ``engagement_rate`` (may be NaN). See the module
    docstring for the bad-values policy.

    Returns one row per (project_id, arm_type, arm) with the columns
    :data:`ARM_COLUMNS`: ``hour`` (timing arms only, else null), ``pulls``,
    ``successes`` (engagement_rate > threshold), ``failures``, ``success_rate``
    (successes / pulls, NaN when untried), ``alpha = 1 + successes``,
    ``beta = 1 + failures``, ``mean = alpha / (alpha + beta)`` (posterior
    mean), ``posterior_sd`` (Beta sd) and ``ucb1`` (timing arms only:
    success_rate + sqrt(2 ln N / n), N = the project's timing pulls, +inf when
    untried; NaN for content arms). Sorted by project, arm_type (content first),
    arm. ``attrs["n_excluded"]`` holds the number of input rows not counted.
    """
    if outcomes.empty or "project_id" not in outcomes.columns:
        empty = pd.DataFrame({name: [] for name in ARM_COLUMNS})
        empty.attrs["n_excluded"] = int(len(outcomes))
        return empty
    clean = _clean_outcomes(outcomes, success_threshold)
    projects = sorted(outcomes["project_id"].dropna().unique().tolist())
    table = pd.concat([_content_arms(clean), _timing_arms(clean, projects)], ignore_index=True)
    table = _add_posterior(table)
    table = table.sort_values(["project_id", "arm_type", "arm"], kind="stable").reset_index(drop=True)
    result = table.loc[:, list(ARM_COLUMNS)]
    result.attrs["n_excluded"] = int(len(outcomes) - len(clean))
    return result


# --------------------------------------------------------------------------- selection


def _one_project(arms: pd.DataFrame) -> pd.DataFrame:
    if "project_id" in arms.columns and arms["project_id"].nunique(dropna=True) > 1:
        raise ValueError("select over the arms of one project at a time")
    return arms


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _beta_params(arms: pd.DataFrame | Mapping[str, tuple[float, float]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Arm names sorted, with their alpha and beta."""
    if isinstance(arms, Mapping):
        frame = pd.DataFrame([(a, p[0], p[1]) for a, p in arms.items()], columns=["arm", "alpha", "beta"])
    else:
        frame = _one_project(arms)
    frame = frame.sort_values("arm", kind="stable")
    alpha = np.array(frame["alpha"], dtype=float)  # writable copies: pseudo-counts are added
    beta = np.array(frame["beta"], dtype=float)
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta)) and np.all(alpha > 0) and np.all(beta > 0)):
        raise ValueError("alpha and beta must be finite and positive")
    return frame["arm"].astype(str).tolist(), alpha, beta


def thompson_select(
    arms: pd.DataFrame | Mapping[str, tuple[float, float]],
    k: int,
    rng: np.random.Generator | int | None,
    pseudo: PseudoCount = "failure",
) -> list[str]:
    """Batch-aware Thompson sampling: ``k`` arm names, one per planned job.

    ``arms``: a DataFrame with ``arm``, ``alpha``, ``beta`` (e.g. the content
    rows of one project from :func:`arm_table`) or a mapping
    ``{arm: (alpha, beta)}``. Each pick draws one sample from every arm's
    Beta(alpha, beta) and takes the largest. After each pick the picked arm gets
    a pseudo-observation so one batch does not pile onto one arm:

    - ``pseudo="failure"`` (default): one pseudo-failure, ``beta += 1``
      (pessimistic; spreads the batch most);
    - ``pseudo="mean"``: a fractional pseudo-observation at the current
      posterior mean m, ``alpha += m, beta += 1 - m`` (keeps the mean, narrows
      the spread).

    Arms are ordered by name before sampling, so the result depends only on the
    arms and the generator state. ``rng``: a numpy Generator or an int seed.
    Raises ValueError for no arms, negative k or invalid parameters.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    names, alpha, beta = _beta_params(arms)
    if not names:
        raise ValueError("no arms to select from")
    generator = _as_rng(rng)
    picks: list[str] = []
    for _ in range(k):
        index = int(np.argmax(generator.beta(alpha, beta)))
        picks.append(names[index])
        if pseudo == "failure":
            beta[index] += 1.0
        elif pseudo == "mean":
            mean = alpha[index] / (alpha[index] + beta[index])
            alpha[index] += mean
            beta[index] += 1.0 - mean
        else:
            raise ValueError(f"unknown pseudo-count rule {pseudo!r}")
    return picks


def _timing_state(arms: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hours (sorted), pulls and successes of the timing arms."""
    frame = _one_project(arms)
    if "arm_type" in frame.columns:
        frame = frame[frame["arm_type"] == "timing"]
    if "hour" in frame.columns and frame["hour"].notna().all():
        hours = frame["hour"].astype("int64").to_numpy()
    else:
        hours = np.array([arm_hour(a) for a in frame["arm"]], dtype="int64")
    order = np.argsort(hours, kind="stable")
    pulls = np.array(frame["pulls"], dtype=float)[order]  # writable copies: pseudo-pulls are added
    successes = np.array(frame["successes"], dtype=float)[order]
    return hours[order], pulls, successes


def ucb1_select(arms: pd.DataFrame, k: int) -> list[int]:
    """Batch-aware UCB1 over timing arms: ``k`` posting hours (ints, 0-23).

    ``arms``: a DataFrame with ``pulls``, ``successes`` and ``hour`` or ``arm``
    (``timing_HH``), for one project (rows with ``arm_type`` other than
    ``timing`` are ignored). Only the hours given are candidates.

    Each pick: an untried hour (n = 0) if any, lowest hour first; otherwise the
    largest ``success_rate + sqrt(2 ln N / n)``, ties broken by the lower hour.
    After each pick a pseudo-pull is added: ``n += 1``, ``N += 1`` and the
    pseudo-reward is the arm's current success rate (for an untried arm: the
    pooled success rate of all tried hours, 0.5 when nothing was tried), so its
    mean is unchanged but its bonus shrinks and picks spread. Deterministic.
    Hours repeat only when ``k`` exceeds what the bonus spreads over.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    hours, pulls, successes = _timing_state(arms)
    if len(hours) == 0:
        raise ValueError("no timing arms to select from")
    picks: list[int] = []
    for _ in range(k):
        untried = np.flatnonzero(pulls == 0)
        if len(untried):
            index = int(untried[0])
            tried = pulls > 0
            reward = successes[tried].sum() / pulls[tried].sum() if tried.any() else 0.5
        else:
            index = int(np.argmax(ucb1_scores(successes, pulls)))  # first max = lowest hour
            reward = successes[index] / pulls[index]
        picks.append(int(hours[index]))
        pulls[index] += 1.0
        successes[index] += reward
    return picks
