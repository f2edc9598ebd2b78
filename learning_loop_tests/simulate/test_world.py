"""The simulated world, the baselines and the report arithmetic (pure, no Dagster)."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS
from learning_loop.simulate import report
from learning_loop.simulate.policies import (
    Observation,
    SeedsPolicy,
    UniformPolicy,
    best_raw_average,
    uniform_mutation,
)
from learning_loop.simulate.world import FACTORS, World, WorldConfig, publication_time, sigmoid

# A tiny hand-made world: every number below is checked by hand.
TINY = World(
    effects={
        "preset": {"AAA": 0.1, "BBB": 0.3},
        "hook_type": {"question": -0.2, "story": 0.5},
        "scene_count": {5: 0.0, 7: 0.2},
        "narration_wpm_bucket": {"slow": 0.1, "fast": -0.1},
        "caption_density_bucket": {"sparse": 0.0, "dense": 0.05},
        "ending_type": {"cta": 0.3, "loop": 0.3},  # a tie: the first value wins
        "content_type": {"story": 0.4, "factual": -0.4},
        "hour": {9: 0.0, 18: 0.25},
    },
    base_logit=-1.0,
    seed=7,
)
BEST = {
    "preset": "BBB",
    "hook_type": "story",
    "scene_count": 7,
    "narration_wpm_bucket": "slow",
    "caption_density_bucket": "dense",
    "ending_type": "cta",
}
WORST = {
    "preset": "AAA",
    "hook_type": "question",
    "scene_count": 5,
    "narration_wpm_bucket": "fast",
    "caption_density_bucket": "sparse",
    "ending_type": "cta",
}


def test_tiny_world_oracle_by_hand():
    oracle = TINY.oracle()
    assert oracle.recipe == BEST
    assert (oracle.content_type, oracle.hour) == ("story", 18)
    # -1 + 0.3 + 0.5 + 0.2 + 0.1 + 0.05 + 0.3 + 0.4 + 0.25 = 1.1
    assert oracle.logit == pytest.approx(1.1)
    assert oracle.reward == pytest.approx(0.7502601056)


def test_tiny_world_regret_by_hand():
    # WORST, factual at 09h: -1 + 0.1 - 0.2 + 0 - 0.1 + 0 + 0.3 - 0.4 + 0 = -1.3 -> 0.2141650170
    worst = TINY.true_reward(WORST, "factual", 9)
    assert worst == pytest.approx(0.2141650170)
    assert TINY.regret(WORST, "factual", 9) == pytest.approx(0.5360950886)
    assert TINY.regret(BEST, "story", 18) == pytest.approx(0.0)
    # BEST at 09h instead of 18h: logit 0.85 -> 0.7005671425; regret 0.0496929631
    at_nine = TINY.true_reward(BEST, "story", 9)
    assert at_nine == pytest.approx(0.7005671425)
    # day 1: the oracle and the worst video; day 2: BEST at 09h
    curve = report.regret_curve([[TINY.oracle().reward, worst], [at_nine]], TINY.oracle().reward)
    assert curve[0] == pytest.approx(((0.7502601056 + 0.2141650170) / 2, 0.5360950886, 0.5360950886))
    assert curve[1] == pytest.approx((0.7005671425, 0.0496929631, 0.5857880517))


def test_every_choice_has_nonnegative_regret_and_oracle_is_the_maximum():
    world = World.from_config(WorldConfig(seed=11))
    rng = np.random.default_rng(0)
    oracle = world.oracle()
    for _ in range(2000):
        recipe = {f: world.domain(f)[int(rng.integers(0, len(world.domain(f))))] for f in RECIPE_FIELDS}
        content = world.content_types[int(rng.integers(0, len(world.content_types)))]
        hour = int(rng.integers(0, 24))
        assert 0 < world.true_reward(recipe, content, hour) <= oracle.reward
        assert world.regret(recipe, content, hour) >= 0


def test_generated_world_is_deterministic_for_a_seed():
    a, b = World.from_config(WorldConfig(seed=3)), World.from_config(WorldConfig(seed=3))
    assert a.effects == b.effects and a.oracle() == b.oracle()
    assert World.from_config(WorldConfig(seed=4)).effects != a.effects
    assert set(a.effects) == set(FACTORS)
    for name in RECIPE_FIELDS[1:]:
        assert a.domain(name) == tuple(ALLOWED_VALUES[name])
    assert a.domain("hour") == tuple(range(24))
    ra = a.realise(2, 1, a.oracle().recipe, "story", 18)
    rb = b.realise(2, 1, b.oracle().recipe, "story", 18)
    assert ra == rb
    assert a.realise(2, 2, a.oracle().recipe, "story", 18) != ra


def test_same_slot_gets_the_same_noise_whatever_the_recipe():
    world = World.from_config(WorldConfig(seed=5))
    one = world.realise(0, 0, BEST_OF(world), "story", 20)
    other = world.realise(0, 0, {**BEST_OF(world), "hook_type": "question"}, "factual", 3)
    assert one.realised_logit - one.true_logit == pytest.approx(other.realised_logit - other.true_logit)
    assert [s.offset_hours for s in one.snapshots] == [s.offset_hours for s in other.snapshots]
    assert one.quality_score == other.quality_score and one.minute == other.minute


def BEST_OF(world: World) -> dict:
    return dict(world.oracle().recipe)


def test_snapshots_are_jittered_delayed_and_consistent():
    world = World.from_config(WorldConfig(seed=2))
    published = datetime(2024, 2, 1, 18, 30)
    counts = []
    for slot in range(200):
        real = world.realise(1, slot, BEST_OF(world), "story", 18)
        counts.append(len(real.snapshots))
        offsets = [s.offset_hours for s in real.snapshots]
        assert offsets == sorted(offsets)
        for s in real.snapshots:
            assert any(h * 0.85 - 1e-9 <= s.offset_hours <= h * 1.15 + 1e-9 for h in (1, 6, 24, 48, 72))
        rows = real.snapshot_rows(published)
        for earlier, later in zip(rows, rows[1:]):
            for counter in ("views", "likes", "comments", "followers_gained", "shares"):
                assert later[counter] >= earlier[counter] >= 0
        assert all(r["observed_at"] > published for r in rows)
    assert max(counts) == 5 and min(counts) < 5  # some snapshots are missed


def test_percentile_rewards_track_the_realised_quality():
    """The platform's reward formula on simulated metrics ranks videos like their realised quality."""
    world = World.from_config(WorldConfig(seed=9))
    rng = np.random.default_rng(1)
    rows = []
    for slot in range(300):
        recipe = {f: world.domain(f)[int(rng.integers(0, len(world.domain(f))))] for f in RECIPE_FIELDS}
        real = world.realise(0, slot, recipe, world.content_types[slot % 4], int(rng.integers(0, 24)))
        six = [s for s in real.snapshots if s.offset_hours >= 6]
        before = [s for s in real.snapshots if s.offset_hours < 6]
        if not six:
            continue
        t1, v1 = (before[-1].offset_hours, before[-1].views) if before else (0.0, 0)
        t2, v2 = six[0].offset_hours, six[0].views
        views_6h = v1 + (v2 - v1) * (6 - t1) / (t2 - t1)
        last = real.snapshots[-1]
        rows.append(
            {
                "q": real.realised_logit,
                "avd": last.avg_view_duration_s,
                "v6": views_6h,
                "eng": (last.likes + last.comments) / last.views,
            }
        )
    frame = pd.DataFrame(rows)
    pct = {c: frame[c].rank(method="average") / len(frame) for c in ("avd", "v6", "eng")}
    reward = 0.5 * pct["avd"] + 0.3 * pct["v6"] + 0.2 * pct["eng"]
    assert reward.corr(frame["q"], method="spearman") > 0.95


def test_publication_time_is_the_next_posting_hour_after_planning():
    assert publication_time(date(2024, 2, 1), 18, 5) == datetime(2024, 2, 1, 18, 5)
    assert publication_time(date(2024, 2, 1), 6) == datetime(2024, 2, 1, 6, 0)
    assert publication_time(date(2024, 2, 1), 3, 59) == datetime(2024, 2, 2, 3, 59)
    with pytest.raises(ValueError):
        publication_time(date(2024, 2, 1), 24)


def test_verdicts_are_judged_against_the_true_effects():
    experiments = [
        {"status": "completed", "winner": "variant", "variable_tested": "hook_type",
         "baseline_value": "question", "variant_value": "story"},  # story is truly better: correct
        {"status": "completed", "winner": "baseline", "variable_tested": "scene_count",
         "baseline_value": "5", "variant_value": "7"},  # 7 is truly better: wrong
        {"status": "completed", "winner": "baseline", "variable_tested": "preset",
         "baseline_value": "BBB", "variant_value": "AAA"},  # correct
        {"status": "completed", "winner": "inconclusive", "variable_tested": "preset",
         "baseline_value": "BBB", "variant_value": "AAA"},
        {"status": "running", "winner": None, "variable_tested": "preset",
         "baseline_value": "BBB", "variant_value": "AAA"},
    ]
    assert report.judge_experiments(TINY, experiments) == {
        "started": 5, "running": 1, "decided": 3, "correct": 2, "inconclusive": 1,
    }


def _obs(recipe: dict, reward: float, day: int = 1) -> Observation:
    from learning_loop.domain.recipe import recipe_hash

    ts = datetime(2024, 2, day, 12)
    return Observation(recipe, recipe_hash(recipe), "story", 12, ts, ts, reward, 0.04)


def test_seeds_policy_exploits_the_raw_average_so_one_lucky_video_wins():
    good = {**WORST, "preset": "BBB"}
    lucky = dict(WORST)
    history = [_obs(good, 0.75) for _ in range(20)] + [_obs(lucky, 0.99)]
    assert best_raw_average(history) == lucky
    world = World.from_config(WorldConfig(seed=1, presets=("AAA", "BBB")))
    choices = SeedsPolicy(world).plan(5, datetime(2024, 2, 5), history, np.random.default_rng(0))
    modes = [c.mode for c in choices]
    assert modes.count("explore") == 2 and modes.count("exploit") == 3  # floor(0.3 * 5 + 0.5) = 2
    for c in choices:
        differing = [f for f in RECIPE_FIELDS if c.recipe[f] != lucky[f]]
        assert len(differing) == (1 if c.mode == "explore" else 0)
        assert c.content_type == "story"  # the only content arm it has seen
        assert 0 <= c.hour <= 23


def test_uniform_mutation_changes_exactly_one_field_within_allowed_values():
    rng = np.random.default_rng(3)
    for _ in range(300):
        mutated = uniform_mutation(WORST, ["AAA", "BBB"], rng)
        differing = [f for f in RECIPE_FIELDS if mutated[f] != WORST[f]]
        assert len(differing) == 1
        field = differing[0]
        allowed = ("AAA", "BBB") if field == "preset" else ALLOWED_VALUES[field]
        assert mutated[field] in allowed


def test_baselines_are_deterministic_for_a_seed():
    world = World.from_config(WorldConfig(seed=1))
    history = [_obs({**WORST, "preset": world.presets[0]}, 0.6)]
    for policy in (SeedsPolicy(world), UniformPolicy(world)):
        a = policy.plan(5, datetime(2024, 2, 3), history, np.random.default_rng(42))
        b = policy.plan(5, datetime(2024, 2, 3), history, np.random.default_rng(42))
        assert a == b


def test_report_csv_round_trip_and_plot(tmp_path: Path):
    rows = []
    for i in range(3):
        rows.append({c: float(i) for c in report.METRIC_COLUMNS} | {"day": f"2024-02-0{i + 1}", "day_index": i + 1})
    path = report.write_csv(rows, tmp_path / "r.csv")
    assert path.read_text().splitlines()[0] == ",".join(report.COLUMNS)
    back = report.read_csv(path)
    assert back[-1]["cumulative_regret"] == 2.0 and back[-1]["day"] == "2024-02-03"
    png = report.plot_regret(back, tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SIMULATE_DIR = Path(__file__).resolve().parents[2] / "learning_loop" / "simulate"


def test_simulator_source_never_writes_to_the_warehouse():
    """The simulator reaches the platform only through files, Dagster jobs and the read-only views;
    only its platform adapter opens the warehouse, to call a view."""
    forbidden = re.compile(r"insert_df|\.execute\(|open_warehouse|learning_loop\.warehouse|duckdb\.connect|"
                           r"INSERT INTO|UPDATE |DELETE FROM")
    read_only = re.compile(r"insert_df|\.execute\(|duckdb\.connect|INSERT INTO|UPDATE |DELETE FROM")
    sources = sorted(SIMULATE_DIR.glob("*.py"))
    assert {p.name for p in sources} >= {"world.py", "policies.py", "runner.py", "report.py"}
    for path in sources:
        rule = read_only if path.name == "platform.py" else forbidden
        hits = rule.findall(path.read_text(encoding="utf-8"))
        assert not hits, f"{path.name} touches the warehouse directly: {hits}"


def test_sigmoid_is_the_logistic():
    assert sigmoid(0.0) == 0.5
    assert sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
