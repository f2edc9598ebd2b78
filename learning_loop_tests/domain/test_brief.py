"""Generation brief per job (issue 3, item 5)."""

from __future__ import annotations

import json

import pytest

from learning_loop.domain.brief import (
    CAPTION_DENSITY_RANGES,
    ENDING_GUIDANCE,
    HOOK_GUIDANCE,
    WPM_RANGES,
    generation_brief,
)
from learning_loop.domain.recipe import (
    CAPTION_BUCKETS,
    ENDING_TYPES,
    HOOK_TYPES,
    WPM_BUCKETS,
    Recipe,
    caption_density_bucket,
    narration_wpm_bucket,
)

BASE = dict(
    preset="DARK_DYSTOPIAN_ANIME",
    hook_type="question",
    scene_count=7,
    narration_wpm_bucket="medium",
    caption_density_bucket="medium",
    ending_type="cliffhanger",
)


def recipe(**overrides) -> Recipe:
    return Recipe(**{**BASE, **overrides})


def test_brief_is_deterministic_and_json_serialisable():
    r = recipe()
    a, b = generation_brief(r), generation_brief(Recipe(**BASE))
    assert a == b
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.loads(json.dumps(a)) == a
    assert generation_brief(BASE) == a  # a mapping of the six fields works too


@pytest.mark.parametrize("n", range(5, 11))
def test_exact_scene_count_with_hook_first_and_ending_last(n):
    brief = generation_brief(recipe(scene_count=n, hook_type="mystery", ending_type="loop"))
    assert brief["scene_count"] == n
    assert [s["scene"] for s in brief["scenes"]] == list(range(1, n + 1))
    assert brief["scenes"][0]["role"] == "hook" and brief["scenes"][-1]["role"] == "ending"
    assert all(s["role"] == "body" for s in brief["scenes"][1:-1])
    assert brief["hook"] == {"type": "mystery", "scene": 1, "guidance": HOOK_GUIDANCE["mystery"]}
    assert brief["ending"] == {"type": "loop", "scene": n, "guidance": ENDING_GUIDANCE["loop"]}
    assert f"exactly {n} scenes" in " ".join(brief["instructions"])


def test_every_hook_and_ending_has_its_own_sentence():
    assert set(HOOK_GUIDANCE) == set(HOOK_TYPES)
    assert set(ENDING_GUIDANCE) == set(ENDING_TYPES)
    assert len(set(HOOK_GUIDANCE.values())) == len(HOOK_TYPES)
    assert len(set(ENDING_GUIDANCE.values())) == len(ENDING_TYPES)
    for hook in HOOK_TYPES:
        assert "scene 1" in generation_brief(recipe(hook_type=hook))["hook"]["guidance"]
    for ending in ENDING_TYPES:
        assert "final scene" in generation_brief(recipe(ending_type=ending))["ending"]["guidance"]


@pytest.mark.parametrize("bucket", WPM_BUCKETS)
def test_narration_range_stays_inside_its_bucket(bucket):
    low, high, target = WPM_RANGES[bucket]
    assert low <= target <= high
    assert {narration_wpm_bucket(v) for v in (low, target, high)} == {bucket}
    brief = generation_brief(recipe(narration_wpm_bucket=bucket))
    assert brief["narration"] == {"wpm_bucket": bucket, "wpm_min": low, "wpm_max": high, "wpm_target": target}


@pytest.mark.parametrize("bucket", CAPTION_BUCKETS)
def test_caption_range_stays_inside_its_bucket(bucket):
    low, high, target = CAPTION_DENSITY_RANGES[bucket]
    assert low <= target <= high
    assert {caption_density_bucket(v) for v in (low, target, high)} == {bucket}
    brief = generation_brief(recipe(caption_density_bucket=bucket))
    assert brief["captions"]["per_second_min"] == low and brief["captions"]["per_second_max"] == high


def test_ranges_are_contiguous():
    assert WPM_RANGES["slow"][1] + 1 == WPM_RANGES["medium"][0]
    assert WPM_RANGES["medium"][1] + 1 == WPM_RANGES["fast"][0]
    assert CAPTION_DENSITY_RANGES["sparse"][1] < 0.3 <= CAPTION_DENSITY_RANGES["medium"][0]
    assert CAPTION_DENSITY_RANGES["medium"][1] == 0.6 < CAPTION_DENSITY_RANGES["dense"][0]


def test_invalid_recipe_mapping_is_rejected():
    with pytest.raises(ValueError):
        generation_brief({**BASE, "scene_count": 11})
