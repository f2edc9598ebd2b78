"""Recipes (SPEC §3): canonical JSON, recipe_hash, topic_hash normalisation, validation errors."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from learning_loop.domain.recipe import (
    Recipe,
    canonical_recipe_json,
    caption_density_bucket,
    narration_wpm_bucket,
    normalize_topic,
    recipe_hash,
    topic_hash,
)

CANONICAL = (
    '{"caption_density_bucket":"medium","ending_type":"cliffhanger","hook_type":"question",'
    '"narration_wpm_bucket":"medium","preset":"DARK_DYSTOPIAN_ANIME","scene_count":7}'
)
FIELDS = dict(
    preset="DARK_DYSTOPIAN_ANIME",
    hook_type="question",
    scene_count=7,
    narration_wpm_bucket="medium",
    caption_density_bucket="medium",
    ending_type="cliffhanger",
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- recipe_hash


def test_canonical_json_is_exact():
    assert canonical_recipe_json(FIELDS) == CANONICAL
    assert canonical_recipe_json(Recipe(**FIELDS).fields()) == CANONICAL


def test_recipe_hash_of_known_recipe():
    expected = sha256(CANONICAL)
    assert recipe_hash(FIELDS) == expected
    assert Recipe(**FIELDS).recipe_hash == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_recipe_hash_ignores_key_order_and_scene_count_type():
    shuffled = dict(reversed(list(FIELDS.items())))
    assert recipe_hash(shuffled) == sha256(CANONICAL)
    assert recipe_hash({**FIELDS, "scene_count": 7.0}) == sha256(CANONICAL)
    assert recipe_hash({**FIELDS, "scene_count": "7"}) == sha256(CANONICAL)
    assert Recipe(**{**FIELDS, "scene_count": 7.0}).recipe_hash == sha256(CANONICAL)


def test_recipe_hash_uses_only_the_six_fields():
    assert recipe_hash({**FIELDS, "topic": "anything", "content_type": "story"}) == sha256(CANONICAL)


def test_recipe_hash_changes_with_every_field():
    variants = [
        {**FIELDS, "preset": "NEON_NOIR"},
        {**FIELDS, "hook_type": "story"},
        {**FIELDS, "scene_count": 8},
        {**FIELDS, "narration_wpm_bucket": "fast"},
        {**FIELDS, "caption_density_bucket": "dense"},
        {**FIELDS, "ending_type": "loop"},
    ]
    hashes = {recipe_hash(v) for v in variants} | {recipe_hash(FIELDS)}
    assert len(hashes) == len(variants) + 1


def test_recipe_is_frozen_and_with_field_validates():
    recipe = Recipe(**FIELDS)
    assert hash(recipe) == hash(Recipe(**FIELDS))
    with pytest.raises(ValidationError):
        recipe.scene_count = 8  # type: ignore[misc]
    assert recipe.with_field("scene_count", 8).scene_count == 8
    assert recipe.with_field("scene_count", 8).recipe_hash != recipe.recipe_hash
    with pytest.raises(ValidationError):
        recipe.with_field("scene_count", 11)


# --------------------------------------------------------------------------- topic_hash


@pytest.mark.parametrize(
    "a, b",
    [
        ("ＡＢＣ ｄｅｆ", "abc def"),  # NFKC: full-width letters
        ("ﬁsh", "fish"),  # NFKC: ligature
        ("Straße", "STRASSE"),  # casefold, not lower()
        ("Hello World", "hello world"),
        ("hello   \t world\n\nagain", "hello world again"),  # whitespace runs
        ("  padded topic \n", "padded topic"),  # strip
        ("non\u00a0breaking", "non breaking"),  # NFKC turns NBSP into a space
        ("Ⅻ", "xii"),  # NFKC roman numeral, then casefold
    ],
)
def test_topic_hash_normalisation(a, b):
    assert topic_hash(a) == topic_hash(b)
    assert topic_hash(a) == sha256(normalize_topic(b))


def test_topic_hash_value_and_distinct_topics():
    assert normalize_topic("  The  Lost\tCity ") == "the lost city"
    assert topic_hash("  The  Lost\tCity ") == sha256("the lost city")
    assert topic_hash("the lost city") != topic_hash("the lost cities")
    assert topic_hash("ab") != topic_hash("a b")


# --------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"scene_count": 4}, "scene_count"),
        ({"scene_count": 11}, "scene_count"),
        ({"scene_count": 7.5}, "scene_count"),
        ({"scene_count": True}, "scene_count"),
        ({"scene_count": "7"}, "scene_count"),
        ({"preset": "dark"}, "preset"),
        ({"preset": "DARK ANIME"}, "preset"),
        ({"preset": ""}, "preset"),
        ({"hook_type": "unknown"}, "hook_type"),
        ({"ending_type": "fade"}, "ending_type"),
        ({"narration_wpm_bucket": "very_fast"}, "narration_wpm_bucket"),
        ({"caption_density_bucket": "thick"}, "caption_density_bucket"),
        ({"topic": "extra field"}, "topic"),
    ],
)
def test_recipe_validation_errors(changes, message):
    with pytest.raises(ValidationError) as info:
        Recipe(**{**FIELDS, **changes})
    assert message in str(info.value)


def test_missing_field_is_an_error():
    fields = dict(FIELDS)
    del fields["ending_type"]
    with pytest.raises(ValidationError, match="ending_type"):
        Recipe(**fields)


@pytest.mark.parametrize("value", [5, 10, 7.0])
def test_scene_count_edges(value):
    assert Recipe(**{**FIELDS, "scene_count": value}).scene_count == int(value)


# --------------------------------------------------------------------------- bucket functions


def test_bucket_functions_at_boundaries():
    assert [narration_wpm_bucket(v) for v in (119.9, 120, 160, 160.1)] == ["slow", "medium", "medium", "fast"]
    assert [caption_density_bucket(v) for v in (0.29, 0.3, 0.6, 0.61)] == ["sparse", "medium", "medium", "dense"]
