"""The pure batch planner behind plan-next (SPEC §5, issue 3)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning_loop.domain.brief import generation_brief
from learning_loop.domain.exploration import build_exploration_model
from learning_loop.domain.planning import (
    ExperimentRef,
    InvalidPlanRequestError,
    InvalidTopicsError,
    NoRecipeStatsError,
    PlannerConfig,
    PlanRequest,
    clean_topics,
    experiment_id_for,
    plan_batch,
    ruler_index,
    split_counts,
)
from learning_loop.domain.ranking import RecipeStat, rank_recipes
from learning_loop.domain.recipe import (
    ALLOWED_VALUES,
    RECIPE_FIELDS,
    Recipe,
    topic_hash,
)

AS_OF = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)
BASE = dict(
    preset="DARK_DYSTOPIAN_ANIME",
    hook_type="question",
    scene_count=7,
    narration_wpm_bucket="medium",
    caption_density_bucket="medium",
    ending_type="cliffhanger",
)
SPEC_TOP_KEYS = {
    "batch_id",
    "project_id",
    "as_of",
    "requested",
    "planned",
    "exploit_count",
    "explore_count",
    "jobs",
    "skipped",
}
SPEC_JOB_KEYS = {
    "job_id",
    "topic",
    "topic_hash",
    "generation_mode",
    "recipe",
    "recipe_hash",
    "experiment_id",
    "reason",
}


def recipe(**overrides) -> Recipe:
    return Recipe(**{**BASE, **overrides})


def stat(r: Recipe, n: int = 0, avg: float | None = None) -> RecipeStat:
    return RecipeStat.of(r, times_used=n, scored_videos=n, avg_reward=avg, best_reward=avg)


def sample_stats() -> list[RecipeStat]:
    return [
        stat(recipe(hook_type="mystery"), n=20, avg=0.75),
        stat(recipe(hook_type="story"), n=12, avg=0.7),
        stat(recipe(hook_type="story", preset="VIBRANT_MOTION_GRAPHICS"), n=8, avg=0.62),
        stat(recipe(hook_type="question"), n=1, avg=0.99),
        stat(recipe(ending_type="loop"), n=6, avg=0.4),
        stat(recipe(ending_type="cta")),
    ]


def topics(n: int, prefix: str = "topic") -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


def request(n: int = 5, topic_lines=None, **kw) -> PlanRequest:
    return PlanRequest(
        project_id=kw.pop("project_id", "p1"),
        topics=topic_lines if topic_lines is not None else topics(max(n, 1)),
        count=n,
        as_of=kw.pop("as_of", AS_OF),
        seed=kw.pop("seed", 42),
        **kw,
    )


# ------------------------------------------------------------------ split --
@pytest.mark.parametrize(
    "n, exploit, explore",
    [(1, 1, 0), (2, 1, 1), (3, 2, 1), (5, 3, 2), (10, 7, 3), (11, 8, 3), (15, 10, 5), (1000, 700, 300)],
)
def test_split_counts(n, exploit, explore):
    assert split_counts(n, 0.3) == (exploit, explore)
    plan = plan_batch(request(n), sample_stats(), set())
    assert (plan.planned, plan.exploit_count, plan.explore_count) == (n, exploit, explore)
    out = plan.to_json_dict()
    assert (out["requested"], out["planned"], out["exploit_count"], out["explore_count"]) == (n, n, exploit, explore)


def test_split_edge_ratios():
    assert split_counts(7, 0.0) == (7, 0)
    assert split_counts(7, 1.0) == (0, 7)
    assert split_counts(4, 0.5) == (2, 2)
    assert split_counts(1, 0.5) == (0, 1)


def test_no_scored_recipe_means_all_exploit():
    stats = [stat(recipe(hook_type=h)) for h in ("story", "visual")]
    plan = plan_batch(request(10), stats, set())
    assert plan.explore_count == 0 and plan.exploit_count == 10
    assert plan.notes and "no baseline" in plan.notes[0]


def test_no_recipe_stats_is_a_clear_error():
    with pytest.raises(NoRecipeStatsError) as err:
        plan_batch(request(3), [], set())
    assert "backfill" in str(err.value) and "update-stats" in str(err.value)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------- topics --
def test_topics_cleaned_and_duplicates_collapsed():
    lines = ["  Ancient prophecy  ", "", "   ", "ancient   PROPHECY", "Neon alley\nAncient prophecy", "Ｎｅｏｎ alley"]
    cleaned = clean_topics(lines)
    assert [t.topic for t in cleaned.topics] == ["Ancient prophecy", "Neon alley"]
    assert cleaned.topics[0].topic_hash == topic_hash("Ancient prophecy")
    assert cleaned.collapsed == ("ancient   PROPHECY", "Ancient prophecy", "Ｎｅｏｎ alley")
    plan = plan_batch(request(5, lines), sample_stats(), set())
    assert [j.topic for j in plan.jobs] == ["Ancient prophecy", "Neon alley"]
    assert len({j.topic_hash for j in plan.jobs}) == 2


def test_bad_topics_raise():
    with pytest.raises(InvalidTopicsError):
        clean_topics(["", "   ", "\n"])
    with pytest.raises(InvalidTopicsError, match="line 2"):
        clean_topics(["fine", "x" * 501])
    assert clean_topics(["x" * 500]).topics[0].topic == "x" * 500
    with pytest.raises(InvalidTopicsError):
        plan_batch(request(3, ["  "]), sample_stats(), set())


def test_fewer_topics_than_count_plans_fewer_and_says_so():
    plan = plan_batch(request(10, topics(4)), sample_stats(), set())
    assert plan.planned == 4 and plan.requested == 10
    assert (plan.exploit_count, plan.explore_count) == split_counts(4, 0.3)
    assert "only 4 usable topics for 10 requested" in plan.shortfall_reason
    full = plan_batch(request(4, topics(4)), sample_stats(), set())
    assert full.shortfall_reason is None


@pytest.mark.parametrize(
    "kwargs",
    [{"count": 0}, {"count": 1001}, {"seed": -1}, {"explore_ratio": 1.5}, {"project_id": " "}, {"count": True}],
)
def test_bad_request_raises(kwargs):
    base = dict(project_id="p1", topics=["a"], count=1, as_of=AS_OF, seed=0)
    with pytest.raises(InvalidPlanRequestError):
        PlanRequest(**{**base, **kwargs})


def test_naive_as_of_is_utc_and_printed_with_z():
    naive = plan_batch(request(3, as_of=datetime(2024, 5, 1, 6)), sample_stats(), set())
    other_tz = plan_batch(
        request(3, as_of=datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=2)))), sample_stats(), set()
    )
    assert naive.to_json_dict() == other_tz.to_json_dict()
    assert naive.to_json_dict()["as_of"] == "2024-05-01T06:00:00Z"


# ----------------------------------------------------------------- output --
def test_json_shape():
    plan = plan_batch(request(10), sample_stats(), set())
    out = plan.to_json_dict()
    assert SPEC_TOP_KEYS <= set(out)
    json.dumps(out)
    for job in out["jobs"]:
        assert SPEC_JOB_KEYS <= set(job)
        assert set(job["recipe"]) == set(RECIPE_FIELDS)
        assert job["recipe_hash"] == Recipe(**job["recipe"]).recipe_hash
        assert job["topic_hash"] == topic_hash(job["topic"])
        assert (job["experiment_id"] is None) == (job["generation_mode"] == "exploit")
        assert job["brief"] == generation_brief(Recipe(**job["recipe"]))
        assert job["reason"].startswith(job["generation_mode"] + ":")
    assert len({j["job_id"] for j in out["jobs"]}) == len(out["jobs"])
    assert out["batch_id"].startswith("batch_") and out["skipped"] == []


def test_exploit_is_sample_size_aware_and_rotates_mostly_the_best():
    stats = sample_stats()
    plan = plan_batch(request(8, explore_ratio=0.0), stats, set())
    ranked = rank_recipes(stats)
    assert ranked[0].recipe.hook_type == "mystery"  # 20 x 0.75 beats 1 x 0.99
    assert [j.rank for j in plan.jobs] == [1, 2, 1, 3, 1, 2, 1, 3]
    assert [j.recipe_hash for j in plan.jobs][::2] == [ranked[0].recipe_hash] * 4
    assert plan.jobs[0].reason == "exploit: rank 1 recipe (shrunk reward 0.70 over 20 videos)"


def test_ruler_index():
    assert [ruler_index(j, 3) for j in range(8)] == [0, 1, 0, 2, 0, 1, 0, 2]
    assert [ruler_index(j, 1) for j in range(4)] == [0, 0, 0, 0]


# ------------------------------------------------------------- duplicates --
def test_exploit_clash_takes_the_next_ranked_recipe():
    stats = sample_stats()
    ranked = rank_recipes(stats)
    t = "Epic battle scene"
    existing = {(topic_hash(t), ranked[0].recipe_hash)}
    plan = plan_batch(request(1, [t], explore_ratio=0.0), stats, existing)
    job = plan.jobs[0]
    assert job.recipe_hash == ranked[1].recipe_hash
    assert "rank 1 was already used" in job.reason
    assert (job.topic_hash, job.recipe_hash) not in existing


def test_exploit_exhausted_skips_topic_as_duplicate_and_uses_next_topic():
    stats = sample_stats()
    blocked = "Hidden temple discovery"
    existing = {(topic_hash(blocked), s.recipe_hash) for s in stats}
    plan = plan_batch(request(2, [blocked, "Last survivor", "Cyberpunk chase"], explore_ratio=0.0), stats, existing)
    assert [s.to_json_dict()["reason"] for s in plan.skipped] == ["duplicate"]
    assert plan.skipped[0].topic == blocked
    assert [j.topic for j in plan.jobs] == ["Last survivor", "Cyberpunk chase"]
    assert plan.shortfall_reason is None
    # with no spare topic, the batch is short and says why
    short = plan_batch(request(2, [blocked, "Last survivor"], explore_ratio=0.0), stats, existing)
    assert short.planned == 1 and "1 topic skipped as duplicate" in short.shortfall_reason


def test_explore_clash_tries_another_mutation():
    stats = sample_stats()
    t = "Ancient artifact"
    first = plan_batch(request(1, [t], explore_ratio=1.0), stats, set()).jobs[0]
    assert first.generation_mode == "explore"
    again = plan_batch(request(1, [t], explore_ratio=1.0), stats, {(first.topic_hash, first.recipe_hash)}).jobs[0]
    assert again.generation_mode == "explore" and again.recipe_hash != first.recipe_hash
    assert "already used" in again.reason


def test_explore_exhausted_skips_topic_as_duplicate():
    stats = sample_stats()
    cfg = PlannerConfig()
    model = build_exploration_model(stats)
    baselines = [r for r in rank_recipes(stats) if r.is_scored][: cfg.explore_baselines]
    t = "Two rivals face off"
    existing = {(topic_hash(t), c.variant_hash) for b in baselines for c in model.candidates(b.recipe)}
    plan = plan_batch(request(1, [t], explore_ratio=1.0), stats, existing, config=cfg)
    assert plan.planned == 0
    assert [s.to_json_dict() for s in plan.skipped][0]["reason"] == "duplicate"
    assert "skipped as duplicate" in plan.shortfall_reason


def test_no_pair_repeats_existing_jobs_or_within_batch():
    stats = sample_stats()
    lines = topics(40)
    rng = random.Random(0)
    existing = {(topic_hash(t), s.recipe_hash) for t in lines for s in stats if rng.random() < 0.5}
    plan = plan_batch(request(30, lines), stats, existing)
    pairs = [(j.topic_hash, j.recipe_hash) for j in plan.jobs]
    assert len(set(pairs)) == len(pairs)
    assert not set(pairs) & existing
    assert plan.planned == 30


# ------------------------------------------------------------ determinism --
def test_same_inputs_and_seed_give_the_same_plan():
    stats = sample_stats()
    existing = {(topic_hash("topic 3"), stats[0].recipe_hash)}
    a = plan_batch(request(20, seed=7), stats, existing)
    shuffled = stats[:]
    random.Random(1).shuffle(shuffled)
    b = plan_batch(request(20, seed=7), shuffled, set(existing))
    assert a.to_json_dict() == b.to_json_dict()
    assert a.experiments_json() == b.experiments_json()
    assert a.batch_id == b.batch_id


def test_different_seed_can_differ():
    stats = sample_stats()
    base = plan_batch(request(20, seed=0), stats, set()).to_json_dict()
    others = [plan_batch(request(20, seed=s), stats, set()).to_json_dict() for s in range(1, 6)]
    assert any(o["jobs"] != base["jobs"] for o in others)
    assert any(o["batch_id"] != base["batch_id"] for o in others)


def test_replanning_after_writing_gives_a_new_batch_id():
    stats = sample_stats()
    first = plan_batch(request(5), stats, set())
    existing = {(j.topic_hash, j.recipe_hash) for j in first.jobs}
    second = plan_batch(request(5), stats, existing)
    assert second.batch_id != first.batch_id
    assert not {j.job_id for j in first.jobs} & {j.job_id for j in second.jobs}


# ------------------------------------------------------------ experiments --
def test_new_experiments_are_recorded_once_with_deterministic_ids():
    stats = sample_stats()
    plan = plan_batch(request(40), stats, set())
    explore = [j for j in plan.jobs if j.generation_mode == "explore"]
    by_id = {e.experiment_id: e for e in plan.new_experiments}
    assert len(by_id) == len(plan.new_experiments)
    assert {j.experiment_id for j in explore} == set(by_id)
    for job in explore:
        exp = by_id[job.experiment_id]
        assert exp.baseline_recipe_hash == job.baseline_recipe_hash
        assert exp.variant_recipe_hash == job.recipe_hash
        assert exp.variable_tested == job.variable_tested
        assert getattr(exp.baseline_recipe, exp.variable_tested) != getattr(exp.variant_recipe, exp.variable_tested)
        assert str(getattr(exp.variant_recipe, exp.variable_tested)) == exp.variant_value
        assert exp.experiment_id == experiment_id_for("p1", exp.baseline_recipe_hash, exp.variant_recipe_hash, AS_OF)
        assert exp.started_at == AS_OF
    assert experiment_id_for("p1", "a", "b", AS_OF).startswith("exp_")
    assert experiment_id_for("p1", "a", "b", AS_OF) != experiment_id_for("p2", "a", "b", AS_OF)


def test_running_experiment_is_reused_not_duplicated():
    stats = sample_stats()
    first = plan_batch(request(10), stats, set())
    assert first.new_experiments
    running = [
        ExperimentRef(e.experiment_id, e.baseline_recipe_hash, e.variant_recipe_hash) for e in first.new_experiments
    ]
    # Same request a day later against the same stats: the same seed draws the
    # same mutations, which now belong to running experiments.
    later = plan_batch(request(10, as_of=AS_OF + timedelta(days=1)), stats, set(), running)
    reused = {j.experiment_id for j in later.jobs if j.generation_mode == "explore"}
    assert reused and reused <= {r.experiment_id for r in running}
    assert later.new_experiments == ()
    assert set(later.reused_experiment_ids) == reused
    assert all("continues running experiment" in j.reason for j in later.jobs if j.generation_mode == "explore")


def test_every_mutation_covered_by_running_experiments_creates_none():
    stats = sample_stats()
    model = build_exploration_model(stats)
    running = [
        ExperimentRef(f"exp_running_{i}", r.recipe_hash, c.variant_hash)
        for i, (r, c) in enumerate((r, c) for r in rank_recipes(stats)[:5] for c in model.candidates(r.recipe))
    ]
    plan = plan_batch(request(20), stats, set(), running)
    assert plan.explore_count == 6
    assert plan.new_experiments == ()
    assert all(j.experiment_id.startswith("exp_running_") for j in plan.jobs if j.generation_mode == "explore")


def test_every_field_gets_explored_over_seeds():
    stats = sample_stats()  # two presets known -> preset is mutable
    fields = set()
    for seed in range(60):
        plan = plan_batch(request(10, seed=seed), stats, set())
        fields |= {j.variable_tested for j in plan.jobs if j.generation_mode == "explore"}
        if fields == set(RECIPE_FIELDS):
            break
    assert fields == set(RECIPE_FIELDS)


# --------------------------------------------------------------- property --
recipe_strategy = st.builds(
    Recipe,
    preset=st.sampled_from(["DARK_DYSTOPIAN_ANIME", "VIBRANT_MOTION_GRAPHICS", "NOIR"]),
    hook_type=st.sampled_from(ALLOWED_VALUES["hook_type"]),
    scene_count=st.integers(5, 10),
    narration_wpm_bucket=st.sampled_from(ALLOWED_VALUES["narration_wpm_bucket"]),
    caption_density_bucket=st.sampled_from(ALLOWED_VALUES["caption_density_bucket"]),
    ending_type=st.sampled_from(ALLOWED_VALUES["ending_type"]),
)
stat_strategy = st.builds(
    lambda r, n, avg: stat(r, n, avg if n else None),
    recipe_strategy,
    st.integers(0, 30),
    st.floats(0.0, 1.0),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stats=st.lists(stat_strategy, min_size=1, max_size=12),
    n=st.integers(1, 25),
    n_topics=st.integers(1, 30),
    ratio=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(0, 2**32),
    clash=st.floats(0.0, 0.9),
)
def test_property_explore_jobs_change_exactly_one_allowed_field(stats, n, n_topics, ratio, seed, clash):
    lines = topics(n_topics)
    rng = np.random.default_rng(seed)
    existing = {(topic_hash(t), s.recipe_hash) for t in lines for s in stats if rng.random() < clash}
    plan = plan_batch(request(n, lines, seed=seed, explore_ratio=ratio), stats, existing)
    by_hash = {s.recipe_hash: s.recipe for s in stats}
    presets = {s.recipe.preset for s in stats}
    new = {e.experiment_id: e for e in plan.new_experiments}
    pairs = [(j.topic_hash, j.recipe_hash) for j in plan.jobs]
    assert len(set(pairs)) == len(pairs) and not set(pairs) & existing
    assert plan.planned + len(plan.skipped) <= n_topics and plan.planned <= n
    for job in plan.jobs:
        r = job.recipe
        assert r.recipe_hash == job.recipe_hash
        assert 5 <= r.scene_count <= 10 and r.preset in presets
        for f, allowed in ALLOWED_VALUES.items():
            assert getattr(r, f) in allowed
        if job.generation_mode == "exploit":
            assert job.recipe_hash in by_hash and job.experiment_id is None
            continue
        base = by_hash[job.baseline_recipe_hash]
        diffs = [f for f in RECIPE_FIELDS if getattr(r, f) != getattr(base, f)]
        assert diffs == [job.variable_tested]
        exp = new[job.experiment_id]
        assert (exp.baseline_recipe_hash, exp.variant_recipe_hash) == (job.baseline_recipe_hash, job.recipe_hash)
    if plan.planned == min(n, n_topics):
        assert (plan.exploit_count, plan.explore_count) in {
            split_counts(plan.planned, ratio),
            (plan.planned, 0),  # no scored baseline
        }
