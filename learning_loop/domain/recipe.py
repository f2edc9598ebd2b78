"""Recipes: the six production fields of a video, their buckets and hashes (SPEC §3).

Plain typed functions, no Dagster. Everything that names an allowed value
imports it from here, so the vocabulary has exactly one home.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, field_validator

HookType = Literal["question", "statement", "visual", "story", "contrast", "mystery"]
EndingType = Literal["cliffhanger", "resolve", "cta", "loop"]
WpmBucket = Literal["slow", "medium", "fast"]
CaptionBucket = Literal["sparse", "medium", "dense"]

HOOK_TYPES: tuple[str, ...] = get_args(HookType)
ENDING_TYPES: tuple[str, ...] = get_args(EndingType)
WPM_BUCKETS: tuple[str, ...] = get_args(WpmBucket)
CAPTION_BUCKETS: tuple[str, ...] = get_args(CaptionBucket)
SCENE_COUNT_MIN = 5
SCENE_COUNT_MAX = 10
SCENE_COUNTS: tuple[int, ...] = tuple(range(SCENE_COUNT_MIN, SCENE_COUNT_MAX + 1))
PRESET_PATTERN = re.compile(r"^[A-Z0-9_]+$")
#: The middle bucket's inclusive bounds: below is the first bucket, above the last (SPEC §3).
WPM_MEDIUM_RANGE = (120.0, 160.0)
CAPTION_MEDIUM_RANGE = (0.3, 0.6)

#: The six recipe fields, in the order used for display.
RECIPE_FIELDS: tuple[str, ...] = (
    "preset",
    "hook_type",
    "scene_count",
    "narration_wpm_bucket",
    "caption_density_bucket",
    "ending_type",
)

#: Allowed values of every field except ``preset`` (an open vocabulary).
ALLOWED_VALUES: dict[str, tuple] = {
    "hook_type": HOOK_TYPES,
    "scene_count": SCENE_COUNTS,
    "narration_wpm_bucket": WPM_BUCKETS,
    "caption_density_bucket": CAPTION_BUCKETS,
    "ending_type": ENDING_TYPES,
}


def narration_wpm_bucket(wpm: float) -> str:
    """slow (< 120), medium (120–160 inclusive), fast (> 160)."""
    low, high = WPM_MEDIUM_RANGE
    return WPM_BUCKETS[0] if wpm < low else WPM_BUCKETS[1] if wpm <= high else WPM_BUCKETS[2]


def caption_density_bucket(captions_per_second: float) -> str:
    """sparse (< 0.3), medium (0.3–0.6 inclusive), dense (> 0.6)."""
    low, high = CAPTION_MEDIUM_RANGE
    return CAPTION_BUCKETS[0] if captions_per_second < low else CAPTION_BUCKETS[1] if captions_per_second <= high else CAPTION_BUCKETS[2]


class Recipe(BaseModel):
    """A validated recipe. Immutable and hashable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    hook_type: HookType
    scene_count: int
    narration_wpm_bucket: WpmBucket
    caption_density_bucket: CaptionBucket
    ending_type: EndingType

    @field_validator("preset")
    @classmethod
    def _preset_upper(cls, value: str) -> str:
        if not PRESET_PATTERN.match(value):
            raise ValueError(f"preset must match [A-Z0-9_]+, got {value!r}")
        return value

    @field_validator("scene_count", mode="before")
    @classmethod
    def _scene_count_range(cls, value: object) -> int:
        if isinstance(value, bool):
            raise ValueError("scene_count must be an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"scene_count must be an integer, got {value}")
            value = int(value)
        if not isinstance(value, int):
            raise ValueError(f"scene_count must be an integer, got {value!r}")
        if not SCENE_COUNT_MIN <= value <= SCENE_COUNT_MAX:
            raise ValueError(f"scene_count must be within {SCENE_COUNT_MIN}-{SCENE_COUNT_MAX}, got {value}")
        return value

    def fields(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in RECIPE_FIELDS}

    @property
    def recipe_hash(self) -> str:
        return recipe_hash(self.fields())

    def with_field(self, field: str, value: object) -> "Recipe":
        """A copy with one field replaced (validated)."""
        data = self.fields()
        data[field] = value
        return Recipe(**data)


def canonical_recipe_json(fields: dict[str, object]) -> str:
    """Canonical JSON of the six fields: keys sorted, no spaces, scene_count an int."""
    data = {name: fields[name] for name in RECIPE_FIELDS}
    data["scene_count"] = int(data["scene_count"])  # type: ignore[arg-type]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def recipe_hash(fields: dict[str, object]) -> str:
    """SHA-256 hex of the canonical JSON of the six recipe fields (SPEC §3)."""
    return hashlib.sha256(canonical_recipe_json(fields).encode("utf-8")).hexdigest()


_WHITESPACE = re.compile(r"\s+")


def normalize_topic(topic: str) -> str:
    """NFKC, casefold, whitespace runs collapsed to one space, stripped."""
    text = unicodedata.normalize("NFKC", topic).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def topic_hash(topic: str) -> str:
    """SHA-256 hex of the normalised topic (SPEC §3)."""
    return hashlib.sha256(normalize_topic(topic).encode("utf-8")).hexdigest()
