"""The closed loop: a simulated world drives the real platform day by day.

The simulator touches the platform only through its public interfaces:

- it **writes files** the platform reads — the day's topics file
  (``$LEARNING_LOOP_HOME/topics/<project>/<YYYY-MM-DD>.txt``) and landing
  files (``landing/videos/sim-<day>.csv``, ``landing/metrics/sim-<day>.csv``);
- it **runs Dagster jobs** of the code location
  (:func:`learning_loop.orchestration.runner.run_job`): ``plan_next_batch``, ``ingest_landing``,
  ``update_stats`` and ``simulation_report_job``;
- it **reads** the experiments through the operator's read-only view
  (:func:`learning_loop.views.planning.experiments_view`, what ``learning-loop experiments`` prints).

Its adapter (:mod:`learning_loop.simulate.platform`) does all of that. The
simulation runs in its own runtime folder (``$LEARNING_LOOP_HOME/simulation/seed-<n>/``:
landing zone, topics, DuckDB warehouse, report) **and its own Dagster instance**
(``<that folder>/dagster``), given by its own settings, so one Dagster instance
always describes one warehouse. Open its runs with
``LEARNING_LOOP_HOME=<that folder> learning-loop ui``.

One simulated day d (as of ``d 06:00 UTC``):

1. write d's topics; run ``plan_next_batch`` with ``as_of = d 06:00`` and a
   planner seed derived from the simulation seed and d;
2. publish every planned job: at ``d + posting_hour`` (the next day for hours
   before 06:00; a fixed hour when the platform gave none), with its
   ``job_id``, recipe, content type and the world's quality/novelty/…
   scores; queue the video row and its snapshots;
3. the baselines plan and publish their own videos in the same world (same
   topics, same slots → same noise); they are never shown to the platform;
4. at the end of the day, write every queued row observed before
   ``d + 1 day 00:00`` into d's landing files (later snapshots wait in the
   queue for their own day), run ``ingest_landing`` and ``update_stats`` for
   partition d;
5. append the day's report row (CSV) and materialise ``simulation_report``.

Before day 1 a warm-up (default 7 days) publishes a few videos a day with
recipes from a small random pool (``generation_mode = manual``, every preset
and content type used, random hours), so recipe stats, arms and predictors
exist; warm-up videos count for neither regret nor the report, and the
baselines start from the same warm-up observations.

Determinism: the world, the topics, the warm-up, the planner seeds and the
baselines' generators are all functions of the simulation seed, so the same
seed gives the same report.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learning_loop.settings import Settings
from learning_loop.simulate import report
from learning_loop.simulate.platform import SIM_TAG, PlatformAdapter
from learning_loop.simulate.policies import Choice, Observation, SeedsPolicy, UniformPolicy, observe, random_recipe
from learning_loop.simulate.world import PLAN_HOUR, World, WorldConfig, publication_time

DEFAULT_PROJECT = "sim-shorts"
DEFAULT_START = date(2024, 2, 1)
MARKER = ".learning-loop-simulation"
_STREAM_WARMUP = 11
_STREAM_POLICY = 12
_STREAM_TOPICS = 13
_DAY_OFFSET = 100_000

TOPIC_WORDS_A = ("ancient", "neon", "forgotten", "hidden", "last", "secret", "quantum", "silent", "burning", "frozen")
TOPIC_WORDS_B = ("temple", "city", "artifact", "signal", "river", "empire", "machine", "storm", "library", "frontier")


@dataclass
class SimulationConfig:
    """What to simulate. ``start`` is the first simulated day (after the warm-up)."""

    days: int = 14
    seed: int = 1
    jobs_per_day: int = 5
    warmup_days: int = 7
    warmup_videos_per_day: int | None = None  # default: jobs_per_day
    warmup_pool_size: int = 8
    start: date | None = None
    project_id: str = DEFAULT_PROJECT
    out_dir: Path | None = None
    home: Path | None = None  # the simulation's runtime folder; default $LEARNING_LOOP_HOME/simulation/seed-<n>
    fast: bool = False
    fallback_hour: int = 18
    world: WorldConfig | None = None  # its seed is replaced by ``seed`` unless given explicitly

    def __post_init__(self) -> None:
        if not 1 <= self.days <= 3650:
            raise ValueError(f"--days must be within 1-3650, got {self.days}")
        if not 1 <= self.jobs_per_day <= 1000:
            raise ValueError(f"--jobs-per-day must be within 1-1000, got {self.jobs_per_day}")
        if self.warmup_days < 1:
            raise ValueError(f"--warmup-days must be at least 1 (recipe stats must exist), got {self.warmup_days}")
        if self.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed}")


@dataclass
class SimulationResult:
    rows: list[dict[str, Any]]
    csv_path: Path
    png_path: Path
    home: Path
    videos: list[dict[str, Any]] = field(default_factory=list)
    run_ids: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    job_seconds: dict[str, float] = field(default_factory=dict)


def planner_seed(sim_seed: int, day_index: int) -> int:
    """The plan-next seed of simulated day ``day_index`` (a function of the simulation seed and the day)."""
    return (int(sim_seed) * 1_000_003 + int(day_index) * 7_919 + 17) % (2**31 - 1)


def topics_for(sim_seed: int, day_index: int, n: int) -> list[str]:
    """``n`` fresh, unique topics for a day (deterministic)."""
    rng = np.random.default_rng(np.random.SeedSequence([sim_seed, _STREAM_TOPICS, day_index + _DAY_OFFSET]))
    out = []
    for i in range(n):
        a = TOPIC_WORDS_A[int(rng.integers(0, len(TOPIC_WORDS_A)))]
        b = TOPIC_WORDS_B[int(rng.integers(0, len(TOPIC_WORDS_B)))]
        out.append(f"The {a} {b}, part {day_index + 1}.{i + 1}")
    return out


def _iso(ts: datetime) -> str:
    return ts.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def warmup_pool(world: World, rng: np.random.Generator, size: int) -> list[dict[str, Any]]:
    """The warm-up's hand-made recipes: random ones, the presets in rotation so every preset is used."""
    presets = world.presets
    pool = []
    for i in range(max(size, len(presets))):
        recipe = random_recipe(world, rng)
        recipe["preset"] = presets[i % len(presets)]
        pool.append(recipe)
    return pool


def default_home(parent: Settings, seed: int) -> Path:
    return parent.home / "simulation" / f"seed-{seed}"


def prepare_home(home: Path) -> None:
    """Start from an empty simulation folder. Refuses to wipe a non-empty folder it did not create."""
    if home.exists():
        if any(home.iterdir()) and not (home / MARKER).exists():
            raise ValueError(f"{home} exists and is not a simulation folder; choose another --out/home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("created by `learning-loop simulate`; wiped and rebuilt by every run\n", encoding="utf-8")


@dataclass
class _Queue:
    """Landing rows waiting for the day on which they are observed."""

    videos: list[tuple[date, dict[str, Any]]] = field(default_factory=list)
    metrics: list[tuple[date, dict[str, Any]]] = field(default_factory=list)

    def flush(self, day: date, landing: Path) -> tuple[int, int]:
        """Write every row visible by the end of ``day`` into ``day``'s files; keep the rest."""
        counts = []
        for kind, name in (("videos", "videos"), ("metrics", "metrics")):
            items: list = getattr(self, name)
            ready = [row for visible, row in items if visible <= day]
            setattr(self, name, [(visible, row) for visible, row in items if visible > day])
            if ready:
                folder = landing / kind
                folder.mkdir(parents=True, exist_ok=True)
                frame = pd.DataFrame(ready)
                if "scene_count" in frame.columns:
                    frame["scene_count"] = frame["scene_count"].astype("Int64")
                frame.to_csv(folder / f"sim-{day.isoformat()}.csv", index=False)
            counts.append(len(ready))
        return counts[0], counts[1]


class Simulation:
    """One closed-loop simulation (see the module docstring)."""

    def __init__(
        self, config: SimulationConfig, progress: Callable[[str], None] | None = None, parent: Settings | None = None
    ) -> None:
        """`parent`: the operator's settings (where the default simulation folder lives, the first partition)."""
        parent = parent or Settings.from_env()
        self.config = config
        world_cfg = config.world or WorldConfig(seed=config.seed)
        self.world = World.from_config(world_cfg)
        self.oracle = self.world.oracle()
        self.say = progress or (lambda message: None)
        self.home = (config.home or default_home(parent, config.seed)).resolve()
        self.out_dir = (config.out_dir or self.home / "report").resolve()
        # the operator's planner settings apply to the simulated project too (e.g. LEARNING_LOOP_PLANNER=ranking
        # simulates the issue-3 planner in the same world)
        self.settings = Settings.for_home(
            self.home, start_date_raw=parent.start_date, planner_raw=parent.planner_raw,
            plan_max_experiments_raw=parent.plan_max_experiments_raw,
        )
        self.dagster_home = self.settings.dagster_home
        self.platform = PlatformAdapter(self.settings, tags={SIM_TAG: f"seed-{config.seed}"})
        self.queue = _Queue()
        self.policies = [SeedsPolicy(self.world), UniformPolicy(self.world)]
        self.histories: dict[str, list[Observation]] = {p.name: [] for p in self.policies}
        self.true_rewards: dict[str, list[list[float]]] = {name: [] for name in report.POLICIES}
        self.rows: list[dict[str, Any]] = []
        self.videos: list[dict[str, Any]] = []  # every simulated (not warm-up) video of every policy
        first = date.fromisoformat(parent.start_date)
        self.start = config.start or max(DEFAULT_START, first + timedelta(days=config.warmup_days))
        if self.start - timedelta(days=config.warmup_days) < first:
            raise ValueError(
                f"the warm-up would start before the first partition {first} (LEARNING_LOOP_START_DATE); "
                "choose a later start"
            )
        last = self.start + timedelta(days=config.days - 1)
        if last >= datetime.now().date():
            raise ValueError(f"the simulation would reach {last}, which is not a complete partition yet")

    @property
    def run_ids(self) -> dict[str, list[str]]:
        return self.platform.run_ids

    @property
    def job_seconds(self) -> dict[str, float]:
        return self.platform.job_seconds

    def _plan(self, day: date, day_index: int, topics_file: Path) -> dict[str, Any]:
        as_of = datetime.combine(day, datetime.min.time()) + timedelta(hours=PLAN_HOUR)
        return self.platform.plan(
            self.config.project_id, topics_file, self.config.jobs_per_day, _iso(as_of),
            planner_seed(self.config.seed, day_index), day,
        )

    # ------------------------------------------------------------------ publishing
    def _publish(
        self, day_index: int, slot: int, day: date, recipe: dict[str, Any], content_type: str, hour: int,
        topic: str, job_id: str | None, mode: str,
    ) -> float:
        real = self.world.realise(day_index, slot, recipe, content_type, hour)
        published = publication_time(day, hour, real.minute)
        video_id = f"sim{self.config.seed}-{day.strftime('%Y%m%d')}-{slot:03d}"
        row = {
            "project_id": self.config.project_id,
            "video_id": video_id,
            "published_at": _iso(published),
            "topic": topic,
            **{k: recipe[k] for k in ("preset", "hook_type", "scene_count", "narration_wpm_bucket",
                                      "caption_density_bucket", "ending_type")},
            "content_type": content_type,
            "quality_score": real.quality_score,
            "novelty_score": real.novelty_score,
            "expertise_level": real.expertise_level,
            "viral_score": real.viral_score,
            "job_id": job_id,
            "generation_mode": mode,
        }
        self.queue.videos.append((published.date(), row))
        for snap in real.snapshot_rows(published):
            observed = snap.pop("observed_at").replace(microsecond=0)
            self.queue.metrics.append(
                (observed.date(), {"project_id": self.config.project_id, "video_id": video_id,
                                   "observed_at": _iso(observed), **snap})
            )
        return real.true_reward

    def _warmup(self) -> None:
        cfg = self.config
        per_day = cfg.warmup_videos_per_day or cfg.jobs_per_day
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _STREAM_WARMUP]))
        pool = warmup_pool(self.world, rng, cfg.warmup_pool_size)
        types = list(self.world.content_types)
        shared: list[Observation] = []
        landing = self.settings.landing_dir()
        first_day = self.start - timedelta(days=cfg.warmup_days)
        for w in range(cfg.warmup_days):
            day = first_day + timedelta(days=w)
            day_index = w - cfg.warmup_days  # negative: warm-up noise never collides with simulated days
            order = [types[int(i)] for i in rng.permutation(len(types))]
            for slot in range(per_day):
                recipe = pool[int(rng.integers(0, len(pool)))]
                content = order[slot % len(order)]
                hour = int(rng.integers(PLAN_HOUR, 24))
                topic = f"Warm-up topic {w + 1}.{slot + 1}"
                self._publish(day_index, slot, day, recipe, content, hour, topic, None, "manual")
                obs, _ = observe(self.world, day_index, slot, Choice(recipe, content, hour, "manual"), day)
                shared.append(obs)
            self.queue.flush(day, landing)
        for name in self.histories:
            self.histories[name] = list(shared)
        last = first_day + timedelta(days=cfg.warmup_days - 1)
        self.say(f"warm-up: {cfg.warmup_days} days × {per_day} videos ({first_day} .. {last}); ingesting and "
                 f"materialising partition {last} …")
        self.platform.ingest_and_update(last)

    def _baselines(self, day: date, day_index: int) -> None:
        t = datetime.combine(day, datetime.min.time())
        n = self.config.jobs_per_day
        for k, policy in enumerate(self.policies):
            rng = np.random.default_rng(
                np.random.SeedSequence([self.config.seed, _STREAM_POLICY, k, day_index + _DAY_OFFSET])
            )
            history = self.histories[policy.name]
            choices = policy.plan(n, t, history, rng)
            rewards = []
            for slot, choice in enumerate(choices):
                obs, true_reward = observe(self.world, day_index, slot, choice, day)
                history.append(obs)
                rewards.append(true_reward)
                self.videos.append(report.video_record(
                    self.world, policy.name, day.isoformat(), day_index + 1, slot, choice.mode,
                    choice.recipe, choice.content_type, choice.hour,
                ))
            self.true_rewards[policy.name].append(rewards)

    # ------------------------------------------------------------------ the loop
    def run(self) -> SimulationResult:
        cfg = self.config
        started = time.monotonic()
        prepare_home(self.home)
        csv_path = self.out_dir / "report.csv"
        png_path = self.out_dir / "regret.png"
        with self.platform.session():
            self._warmup()
            for i in range(cfg.days):
                day_started = time.monotonic()
                day = self.start + timedelta(days=i)
                self._day(i, day, csv_path)
                if cfg.fast and i < cfg.days - 1:
                    pass  # fast: the report asset is materialised once, at the end
                else:
                    self.platform.materialise_report(csv_path, None, day)
                row = self.rows[-1]
                self.say(
                    f"day {i + 1:>3}/{cfg.days} {day}  planned {row['planned']} ({row['explore_count']} explore)  "
                    f"mean true reward {row['mean_true_reward']:.3f} (oracle {self.oracle.reward:.3f})  "
                    f"cumulative regret {row['cumulative_regret']:.2f} (seeds' policy "
                    f"{row['seeds_policy_cumulative_regret']:.2f}, uniform {row['uniform_cumulative_regret']:.2f})  "
                    f"{time.monotonic() - day_started:.1f}s"
                )
            report.plot_regret(
                self.rows, png_path,
                title=f"learning-loop simulation, seed {cfg.seed}, {cfg.jobs_per_day} videos/day",
            )
            self.platform.materialise_report(csv_path, png_path, self.start + timedelta(days=cfg.days - 1))
        return SimulationResult(
            rows=self.rows, csv_path=csv_path, png_path=png_path, home=self.home, videos=self.videos, run_ids=self.run_ids,
            seconds=time.monotonic() - started, job_seconds=dict(self.job_seconds),
        )

    def _model_columns(self, plan: dict[str, Any]) -> dict[str, float]:
        model = plan.get("model") or {}
        if not model.get("best_recipe"):
            return {name: float("nan") for name in
                    ("best_recipe_posterior_mean", "best_recipe_posterior_sd", "best_recipe_true_reward")}
        recipe = dict(model["best_recipe"])
        recipe["scene_count"] = int(recipe["scene_count"])
        content = model.get("best_content_type") or self.world.content_types[0]
        return {
            "best_recipe_posterior_mean": float(model["best_recipe_posterior_mean"]),
            "best_recipe_posterior_sd": float(model["best_recipe_posterior_sd"]),
            "best_recipe_true_reward": float(self.world.true_reward(recipe, content, int(model["best_hour"]))),
        }

    def _day(self, i: int, day: date, csv_path: Path) -> None:
        cfg = self.config
        topics = topics_for(cfg.seed, i, cfg.jobs_per_day)
        topics_file = self.settings.topics_dir / cfg.project_id / f"{day.isoformat()}.txt"
        topics_file.parent.mkdir(parents=True, exist_ok=True)
        topics_file.write_text("\n".join(topics) + "\n", encoding="utf-8")

        plan = self._plan(day, i, topics_file)
        rewards = []
        content_types = self.world.content_types
        for slot, job in enumerate(plan["jobs"]):
            content = job.get("content_type") or content_types[(i + slot) % len(content_types)]
            hour = job.get("posting_hour")
            hour = cfg.fallback_hour if hour is None else int(hour)
            recipe = dict(job["recipe"])
            recipe["scene_count"] = int(recipe["scene_count"])
            rewards.append(
                self._publish(i, slot, day, recipe, content, hour, job["topic"], job["job_id"], job["generation_mode"])
            )
            self.videos.append(report.video_record(
                self.world, "platform", day.isoformat(), i + 1, slot, job["generation_mode"], recipe, content, hour,
            ))
        self.true_rewards["platform"].append(rewards)
        self._baselines(day, i)

        self.queue.flush(day, self.settings.landing_dir())
        self.platform.ingest_and_update(day)
        judged = report.judge_experiments(self.world, self.platform.experiments(cfg.project_id))

        curves = {p: report.regret_curve(self.true_rewards[p], self.oracle.reward)[-1] for p in report.POLICIES}
        planned = int(plan["planned"])
        explore = int(plan["explore_count"])
        row = {
            "day": day.isoformat(),
            "day_index": i + 1,
            "planned": planned,
            "explore_count": explore,
            "explore_share": explore / planned if planned else 0.0,
            "mean_true_reward": curves["platform"][0],
            "oracle_reward": self.oracle.reward,
            "daily_regret": curves["platform"][1],
            "cumulative_regret": curves["platform"][2],
            "experiments_started": judged["started"],
            "experiments_running": judged["running"],
            "experiments_decided": judged["decided"],
            "verdicts_correct": judged["correct"],
            "experiments_inconclusive": judged["inconclusive"],
            "seeds_policy_mean_true_reward": curves["seeds_policy"][0],
            "seeds_policy_cumulative_regret": curves["seeds_policy"][2],
            "uniform_mean_true_reward": curves["uniform"][0],
            "uniform_cumulative_regret": curves["uniform"][2],
            **self._model_columns(plan),
        }
        self.rows.append(row)
        report.write_csv(self.rows, csv_path)
        report.write_videos_csv(self.videos, csv_path.with_name("videos.csv"))


def run_simulation(
    config: SimulationConfig, progress: Callable[[str], None] | None = None, parent: Settings | None = None
) -> SimulationResult:
    return Simulation(config, progress, parent).run()
