"""The model planner wired into plan_next_batch on both backends (issue 12): logged propensities and
policy, the experiment cap from the project's volume, winner promotion, the ranking fallback."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from learning_loop.domain.planning import PlanRequest
from learning_loop.stores.planning import PlanningOptions, _decided, _jobs_per_day, load_inputs, make_plan
from learning_loop_tests.defs.test_planning import AS_OF, P, run_plan, seed_world
from learning_loop.domain.recipe import recipe_hash
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B

HASH_A, HASH_B = recipe_hash(RECIPE_A), recipe_hash(RECIPE_B)


@pytest.fixture
def world(runtime, warehouse, warehouse_url):
    seed_world(warehouse, warehouse_url)
    return warehouse


def _request(count: int = 5, seed: int = 1) -> PlanRequest:
    return PlanRequest(P, [f"topic {i}" for i in range(count)], count, datetime.fromisoformat(AS_OF), seed)


def test_plan_logs_policy_propensities_and_model_metadata(world):
    result = run_plan(count=5)
    assert result.success
    plan = result.output_for_node("plan_next_batch_op")
    assert plan["policy"] == "additive_thompson" and plan["model"]["training_videos"] == 12
    jobs = world.query_df(
        "SELECT generation_mode, recipe_hash, planner, recipe_propensity, content_propensity, hour_propensity, "
        "propensity, posterior_mean, posterior_sd FROM video_jobs"
    )
    assert set(jobs["planner"]) == {"additive_thompson"} and len(jobs) == 5
    for column in ("recipe_propensity", "content_propensity", "hour_propensity", "propensity"):
        assert ((jobs[column] > 0) & (jobs[column] <= 1)).all()
    assert (jobs["posterior_sd"] > 0).all()
    # exploit never picks an untried recipe: only the two seeded recipes have evidence
    exploit = jobs[jobs["generation_mode"] == "exploit"]
    assert set(exploit["recipe_hash"]) <= {HASH_A, HASH_B}
    batch = world.query_df("SELECT policy, explore_ratio, propensity_samples, running_experiment_cap FROM planned_batches")
    assert batch.iloc[0].to_dict() == {
        "policy": "additive_thompson", "explore_ratio": 0.3, "propensity_samples": 2000, "running_experiment_cap": 4
    }
    events = {
        ev.event_specific_data.materialization.asset_key.to_user_string(): ev.event_specific_data.materialization.metadata
        for ev in result.get_asset_materialization_events()
    }
    meta = events["planned_batches"]
    assert meta["policy"].value == "additive_thompson"
    assert isinstance(meta["best_recipe_posterior_mean"].value, float) and meta["best_recipe_posterior_sd"].value > 0
    assert meta["running_experiment_cap"].value == 4
    assert meta["experiments_futile"].value == 0


def test_cap_is_sized_from_the_projects_recent_daily_jobs(world):
    with world.transaction() as tx:
        assert _jobs_per_day(tx, P, datetime.fromisoformat(AS_OF), fallback=5) == 5.0  # no history: the request
        tx.insert_df(
            "planned_batches",
            pd.DataFrame(
                [
                    {"batch_id": f"b{d}", "project_id": P, "batch_date": (datetime(2024, 1, 21) - timedelta(days=d)).date(),
                     "planned": 3}
                    for d in range(1, 8)
                ]
            ),
        )
        assert _jobs_per_day(tx, P, datetime.fromisoformat(AS_OF), fallback=5) == 3.0
        plan, inputs = make_plan(tx, _request(count=3))
    assert inputs.model is not None and inputs.model.running_cap == 2  # floor(3 * 0.3 * 14 / 5)
    with world.transaction() as tx:
        plan, inputs = make_plan(tx, _request(count=3), options=PlanningOptions(max_experiments=7))
    assert inputs.model.running_cap == 7 and plan.model["running_experiment_cap"] == 7


def test_variant_arm_counts_every_job_with_the_variant_recipe_since_the_start(world):
    """SPEC §6: the variant arm is every video with the variant recipe published since the experiment
    started, so the cap's count takes exploit jobs too, and not jobs planned before the start."""
    started = datetime(2024, 1, 10, 6)
    batches = [("b_before", started - timedelta(days=2)), ("b_start", started), ("b_after", started + timedelta(days=1))]
    jobs = [
        ("j1", "b_before", HASH_B, None),  # before the experiment: not in its arm
        ("j2", "b_start", HASH_B, "e_run"),  # the explore job that opened it
        ("j3", "b_after", HASH_B, None),  # an exploit job on the variant recipe
        ("j4", "b_after", HASH_B, "e_run"),
        ("j5", "b_after", HASH_A, None),  # the baseline: not the variant arm
    ]
    with world.transaction() as tx:
        tx.insert_df("experiments", pd.DataFrame([
            {"experiment_id": "e_run", "project_id": P, "baseline_recipe_hash": HASH_A, "variant_recipe_hash": HASH_B,
             "status": "running", "started_at": started}]))
        tx.insert_df("planned_batches", pd.DataFrame(
            [{"batch_id": b, "project_id": P, "batch_date": t.date(), "as_of": t, "planned": 2} for b, t in batches]))
        tx.insert_df("video_jobs", pd.DataFrame(
            [{"job_id": j, "batch_id": b, "project_id": P, "topic_hash": j, "recipe_hash": h, "experiment_id": e}
             for j, b, h, e in jobs]))
        running = load_inputs(tx, P, datetime.fromisoformat(AS_OF)).running
    assert [(r.experiment_id, r.variant_jobs) for r in running] == [("e_run", 3)]


def test_decided_winners_are_promoted_and_losers_demoted_latest_verdict_wins(world):
    rows = [
        ("e1", "A", "B", "variant", datetime(2024, 1, 10)),  # B beat A
        ("e2", "B", "C", "baseline", datetime(2024, 1, 12)),  # B beat C
        ("e3", "B", "D", "variant", datetime(2024, 1, 14)),  # then D beat B
        ("e4", "D", "E", "inconclusive", datetime(2024, 1, 15)),
        ("e5", "D", "F", "variant", datetime(2024, 1, 30)),  # after as_of: not yet known
    ]
    with world.transaction() as tx:
        tx.insert_df(
            "experiments",
            pd.DataFrame(
                [
                    {"experiment_id": e, "project_id": P, "baseline_recipe_hash": b, "variant_recipe_hash": v,
                     "status": "completed", "winner": w, "completed_at": t, "started_at": t - timedelta(days=5)}
                    for e, b, v, w, t in rows
                ]
            ),
        )
        promoted, demoted = _decided(tx, P, datetime.fromisoformat(AS_OF))
    assert promoted == {"D"} and demoted == {"A", "B", "C"}


def test_promoted_winner_is_exploited_and_beaten_baseline_is_not(world):
    """RECIPE_B won against RECIPE_A: exploit jobs go to B even if the model alone preferred A."""
    with world.transaction() as tx:
        tx.insert_df(
            "experiments",
            pd.DataFrame(
                [{"experiment_id": "e1", "project_id": P, "baseline_recipe_hash": HASH_A,
                  "variant_recipe_hash": HASH_B, "status": "completed", "winner": "variant",
                  "completed_at": datetime(2024, 1, 15), "started_at": datetime(2024, 1, 5)}]
            ),
        )
        plan, inputs = make_plan(tx, _request(count=5))
    assert HASH_B in inputs.model.promoted and HASH_A in inputs.model.demoted
    exploit = [j for j in plan.jobs if j.generation_mode == "exploit"]
    assert exploit and {j.recipe_hash for j in exploit} == {HASH_B}


def test_ranking_planner_when_switched_off_or_too_few_videos(world):
    with world.transaction() as tx:
        plan, inputs = make_plan(tx, _request(), options=PlanningOptions(planner="ranking"))
    assert plan.policy == "ranking" and inputs.model is None
    with world.transaction() as tx:
        tx.execute("DELETE FROM outcomes WHERE video_id NOT IN ('v1', 'v2', 'v3')")
        plan, inputs = make_plan(tx, _request())
    assert plan.policy == "ranking" and any("the model needs 10" in n for n in plan.notes)
