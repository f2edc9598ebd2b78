"""The simulation report: one row per simulated day (CSV) and the regret curves (PNG).

Definitions (warm-up videos count for nothing here):

- ``mean_true_reward``: mean true reward (``World.true_reward``, the noise-free
  sigmoid of the summed effects) of the platform's videos planned that day.
- ``daily_regret``: sum over the day's videos of ``oracle reward - true reward``;
  ``cumulative_regret``: the running sum over the simulated days. The same for
  the baselines (``seeds_policy_…``, ``uniform_…``), which plan as many videos
  per day as the platform was asked for.
- ``explore_share``: explore jobs / planned jobs of the day's batch.
- ``experiments_decided``: the platform's experiments completed with a winner
  (baseline or variant) so far; ``verdicts_correct``: of those, how many named
  the truly better arm (variant winner ⇔ the variant's value of the tested
  field has the larger true effect, baseline winner ⇔ the smaller).
  ``experiments_inconclusive``: completed without a winner.
- ``best_recipe_posterior_mean`` / ``_sd``: the model planner's estimate (model target
  units) of the recipe it exploits that day, and its uncertainty; ``best_recipe_true_reward``:
  the true reward of that recipe with the model's best content type and hour, to set against
  ``oracle_reward`` (empty on days planned without the model).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.simulate.world import FACTORS, World

#: Columns of the report CSV, in order.
COLUMNS: tuple[str, ...] = (
    "day",
    "day_index",
    "planned",
    "explore_count",
    "explore_share",
    "mean_true_reward",
    "oracle_reward",
    "daily_regret",
    "cumulative_regret",
    "experiments_started",
    "experiments_running",
    "experiments_decided",
    "verdicts_correct",
    "experiments_inconclusive",
    "seeds_policy_mean_true_reward",
    "seeds_policy_cumulative_regret",
    "uniform_mean_true_reward",
    "uniform_cumulative_regret",
    "best_recipe_posterior_mean",
    "best_recipe_posterior_sd",
    "best_recipe_true_reward",
)
#: Numeric columns published as float metadata of the ``simulation_report`` asset.
METRIC_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in ("day",))
POLICIES: tuple[str, ...] = ("platform", "seeds_policy", "uniform")


def mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")


def regret_curve(daily_true_rewards: Sequence[Sequence[float]], oracle_reward: float) -> list[tuple[float, float, float]]:
    """Per day: (mean true reward, daily regret, cumulative regret).

    ``daily_true_rewards[d]`` holds the true rewards of the videos of day d;
    a video's regret is ``oracle_reward - true_reward``.
    """
    out, total = [], 0.0
    for rewards in daily_true_rewards:
        daily = float(sum(oracle_reward - r for r in rewards))
        total += daily
        out.append((mean(rewards), daily, total))
    return out


def judge_experiments(world: World, experiments: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Count the platform's experiments and check every completed verdict against the truth.

    ``experiments``: rows with ``status``, ``winner``, ``variable_tested``,
    ``baseline_value``, ``variant_value`` (as ``learning-loop experiments --json`` prints them).
    """
    counts = {"started": 0, "running": 0, "decided": 0, "correct": 0, "inconclusive": 0}
    for e in experiments:
        counts["started"] += 1
        if e.get("status") != "completed":
            counts["running"] += 1
            continue
        winner = e.get("winner")
        if winner not in ("baseline", "variant"):
            counts["inconclusive"] += 1
            continue
        counts["decided"] += 1
        truth = world.better_value(str(e["variable_tested"]), e["baseline_value"], e["variant_value"])
        if (winner == "variant" and truth > 0) or (winner == "baseline" and truth < 0):
            counts["correct"] += 1
    return counts


#: Columns of the per-video log (``videos.csv``): every simulated video of every policy.
VIDEO_COLUMNS: tuple[str, ...] = (
    "policy", "day", "day_index", "slot", "generation_mode", "preset", "hook_type", "scene_count",
    "narration_wpm_bucket", "caption_density_bucket", "ending_type", "content_type", "hour", "true_reward", "regret",
    *(f"gap_{f}" for f in FACTORS),
)


def video_record(
    world: World, policy: str, day: str, day_index: int, slot: int, mode: str,
    recipe: Mapping[str, Any], content_type: str, hour: int,
) -> dict[str, Any]:
    """One line of the per-video log, with the logit gap to the oracle per factor.

    ``gap_f = max effect of factor f - effect of the chosen value``; the gaps sum to
    ``oracle logit - true logit``, so they say which factor the regret comes from.
    """
    oracle = world.oracle()
    chosen = {**recipe, "content_type": content_type, "hour": hour}
    best = {**oracle.recipe, "content_type": oracle.content_type, "hour": oracle.hour}
    true_reward = world.true_reward(recipe, content_type, hour)
    return {
        "policy": policy, "day": day, "day_index": day_index, "slot": slot, "generation_mode": mode,
        **{f: recipe[f] for f in RECIPE_FIELDS}, "content_type": content_type, "hour": int(hour),
        "true_reward": true_reward, "regret": oracle.reward - true_reward,
        **{f"gap_{f}": world.effect(f, best[f]) - world.effect(f, chosen[f]) for f in FACTORS},
    }


def write_videos_csv(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(VIDEO_COLUMNS)
        for r in records:
            writer.writerow([_format(r.get(c, "")) for c in VIDEO_COLUMNS])
    return path


def gap_by_factor(records: Iterable[Mapping[str, Any]], last_days: int | None = None) -> dict[str, dict[str, float]]:
    """Per policy: mean logit gap to the oracle per factor (optionally over the last ``last_days`` days)."""
    records = list(records)
    if last_days is not None and records:
        cutoff = max(int(r["day_index"]) for r in records) - last_days
        records = [r for r in records if int(r["day_index"]) > cutoff]
    out: dict[str, dict[str, float]] = {}
    for policy in POLICIES:
        mine = [r for r in records if r["policy"] == policy]
        if mine:
            out[policy] = {f: mean([float(r[f"gap_{f}"]) for r in mine]) for f in FACTORS}
            out[policy]["total"] = sum(out[policy][f] for f in FACTORS)
    return out


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The report table; floats with 6 decimals, so the same seed gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_format(row.get(c, "")) for c in COLUMNS])
    tmp.replace(path)
    return path


def read_csv(path: Path) -> list[dict[str, Any]]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in METRIC_COLUMNS:
            if key in row:
                row[key] = float(row[key]) if row[key] not in ("", None) else float("nan")
    return rows


def plot_regret(rows: Sequence[Mapping[str, Any]], path: Path, title: str = "") -> Path:
    """Two panels: cumulative regret of the three policies, and their daily mean true reward with the
    oracle's. Rendered with the Agg canvas (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    days = [int(r["day_index"]) for r in rows]
    fig = Figure(figsize=(11, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    styles = {
        "platform": ("learning-loop platform", "tab:blue"),
        "seeds_policy": ("seeds' fixed policy", "tab:orange"),
        "uniform": ("uniform random", "tab:gray"),
    }
    for policy, (label, color) in styles.items():
        prefix = "" if policy == "platform" else f"{policy}_"
        left.plot(days, [float(r[f"{prefix}cumulative_regret"]) for r in rows], label=label, color=color, marker=".")
        right.plot(days, [float(r[f"{prefix}mean_true_reward"]) for r in rows], label=label, color=color, marker=".")
    if rows:
        right.axhline(float(rows[0]["oracle_reward"]), color="black", linestyle="--", label="oracle")
    left.set_title("cumulative regret vs the oracle")
    left.set_xlabel("simulated day")
    left.set_ylabel("sum of (oracle - true reward)")
    right.set_title("mean true reward of the day's videos")
    right.set_xlabel("simulated day")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def summary_lines(rows: Sequence[Mapping[str, Any]], last_days: int = 7) -> list[str]:
    """Human summary of a finished report."""
    if not rows:
        return ["no simulated days"]
    last = rows[-1]
    oracle = float(last["oracle_reward"])
    tail = rows[-last_days:]

    def tail_mean(prefix: str) -> float:
        return mean([float(r[f"{prefix}mean_true_reward"]) for r in tail])

    lines = [f"oracle true reward {oracle:.3f}; cumulative regret after {len(rows)} days (lower is better):"]
    base = float(last["seeds_policy_cumulative_regret"])
    for policy, prefix in (("platform", ""), ("seeds' policy", "seeds_policy_"), ("uniform", "uniform_")):
        regret = float(last[f"{prefix}cumulative_regret"])
        ratio = regret / base if base > 0 else float("nan")
        lines.append(
            f"  {policy:<14} regret {regret:7.2f} ({ratio:.2f}x the seeds' policy); last {len(tail)} days' mean true "
            f"reward {tail_mean(prefix):.3f} ({tail_mean(prefix) / oracle:.0%} of the oracle)"
        )
    lines.append(
        f"  experiments: {int(last['experiments_started'])} started, {int(last['experiments_decided'])} decided "
        f"({int(last['verdicts_correct'])} matched the truth), {int(last['experiments_inconclusive'])} inconclusive, "
        f"{int(last['experiments_running'])} running"
    )
    return lines
