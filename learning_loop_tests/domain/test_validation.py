"""Row rules for landing files (SPEC §2): every bad-row rule, buckets, timestamps, accounting."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning_loop.domain.recipe import topic_hash
from learning_loop.domain.validation import (
    KNOWN_COLUMNS,
    METRIC_REQUIRED,
    VIDEO_REQUIRED,
    latest_per_key,
    missing_columns,
    validate_metrics,
    validate_videos,
)

VIDEO = {
    "project_id": "proj",
    "video_id": "v1",
    "published_at": "2024-01-05T10:00:00Z",
    "topic": "The lost city",
    "preset": "DARK_DYSTOPIAN_ANIME",
    "hook_type": "question",
    "scene_count": "7",
    "ending_type": "cliffhanger",
    "narration_wpm": "140",
    "caption_density": "0.45",
}
METRIC = {
    "project_id": "proj",
    "video_id": "v1",
    "observed_at": "2024-01-05T16:00:00Z",
    "views": "100",
    "likes": "10",
    "comments": "2",
    "avg_view_duration_s": "21.5",
}
PUBLISHED = pd.DataFrame(
    {"project_id": ["proj"], "video_id": ["v1"], "published_at": [pd.Timestamp("2024-01-05 10:00:00")]}
)


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows of raw text as read from a landing file (None for an empty cell) plus row_number."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    frame = pd.DataFrame({c: pd.Series([row.get(c) for row in rows], dtype=object) for c in columns})
    frame["row_number"] = range(1, len(rows) + 1)
    return frame


def video(**changes) -> dict:
    return {**VIDEO, **changes}


def metric(**changes) -> dict:
    return {**METRIC, **changes}


# One validation call per kind for all the single-row cases below (pandas has a
# fixed cost per call): row i + 1 of the frame is case i, so every case still
# has its own test id and its own expected reason.

# (changes to the reference video row, expected quarantine reason or None)
VIDEO_CASES: list[tuple[dict, str | None]] = [
    ({}, None),
    # required value missing (None = empty cell, "" and whitespace count as empty too)
    *[({c: e}, f"required value missing: {c}") for c in VIDEO_REQUIRED for e in (None, "", "   ")],
    # unparsable number
    *[({c: v}, f"unparsable number in {c}: {v}") for c, v in
      [("viral_score", "lots"), ("quality_score", "high"), ("scene_count", "seven"), ("narration_wpm", "fast-ish"),
       ("caption_density", "0,45")]],
    # non-finite number
    *[({c: v}, f"non-finite number in {c}") for c in ("quality_score", "viral_score", "narration_wpm",
      "caption_density", "scene_count") for v in ("inf", "NaN", "-Infinity", "1e999")],
    # unparsable timestamp
    *[({"published_at": v}, f"unparsable timestamp in published_at: {v}") for v in
      ("last tuesday", "2024-13-45T99:00", "05/01/2024", "2024-01-05T25:00:00")],
    # scene_count outside 5-10, not an integer, edges valid; huge values quarantine (no exception)
    *[({"scene_count": v}, "scene_count outside 5-10") for v in ("4", "11", "0", "-7", "100", "1e300", "9" * 20)],
    *[({"scene_count": v}, "scene_count is not a whole number") for v in ("7.5", "5.01")],
    *[({"scene_count": v}, None) for v in ("5", "10", "7.0")],
    # unknown vocabulary
    ({"hook_type": "shouting"}, "unknown hook_type: shouting"),
    ({"ending_type": "fade"}, "unknown ending_type: fade"),
    ({"narration_wpm": None, "narration_wpm_bucket": "very_fast"}, "unknown narration_wpm_bucket: very_fast"),
    ({"caption_density": None, "caption_density_bucket": "thick"}, "unknown caption_density_bucket: thick"),
    ({"generation_mode": "random"}, "unknown generation_mode: random"),
    ({"preset": "DARK-ANIME"}, "invalid preset"),
    ({"hook_type": " Question ", "ending_type": "CTA", "generation_mode": "Explore"}, None),
    # negative wpm / density
    ({"narration_wpm": "-3"}, "negative narration_wpm"),
    ({"caption_density": "-0.1"}, "negative caption_density"),
    # score ranges: quality/novelty/expertise in [0, 1], viral in [0, 100]
    *[({c: v}, f"{c} outside [0, 1]") for c in ("quality_score", "novelty_score", "expertise_level")
      for v in ("-0.01", "1.01", "1.7", "-1")],
    *[({c: v}, None) for c in ("quality_score", "novelty_score", "expertise_level") for v in ("0", "1", "0.5", "1.0")],
    *[({"viral_score": v}, "viral_score outside [0, 100]") for v in ("-0.1", "100.5", "1000")],
    *[({"viral_score": v}, None) for v in ("0", "100", "55.5")],
    # a bucket given next to its number must agree with it
    ({"narration_wpm": "160", "narration_wpm_bucket": "medium", "caption_density": "0.3",
      "caption_density_bucket": "medium"}, None),
    ({"narration_wpm": "160.1", "narration_wpm_bucket": "medium"}, "narration_wpm_bucket disagrees with narration_wpm"),
    ({"narration_wpm": "119.9", "narration_wpm_bucket": "medium"}, "narration_wpm_bucket disagrees with narration_wpm"),
    ({"narration_wpm": "120", "narration_wpm_bucket": "slow"}, "narration_wpm_bucket disagrees with narration_wpm"),
    ({"caption_density": "0.61", "caption_density_bucket": "medium"},
     "caption_density_bucket disagrees with caption_density"),
    ({"caption_density": "0.3", "caption_density_bucket": "sparse"},
     "caption_density_bucket disagrees with caption_density"),
    ({"caption_density": "0.6", "caption_density_bucket": "dense"},
     "caption_density_bucket disagrees with caption_density"),
]

METRIC_CASES: list[tuple[dict, str | None]] = [
    ({}, None),
    *[({c: e}, f"required value missing: {c}") for c in METRIC_REQUIRED for e in (None, "", " \t")],
    *[({c: v}, f"unparsable number in {c}: {v}") for c, v in
      [("views", "many"), ("likes", "1,5"), ("comments", "ten"), ("avg_view_duration_s", "12s"), ("shares", "x"),
       ("followers_gained", "some")]],
    *[({c: "-5"}, f"negative count in {c}") for c in ("views", "likes", "comments", "followers_gained", "shares")],
    ({"avg_view_duration_s": "-1.5"}, "negative avg_view_duration_s"),
    ({"views": "10.5"}, "count is not a whole number in views"),
    ({"views": "10.0"}, None),
    ({"views": "1e30"}, "count too large in views (above 9007199254740992)"),
    ({"likes": "9" * 20}, "count too large in likes (above 9007199254740992)"),
    *[({c: v}, f"non-finite number in {c}") for c in ("views", "avg_view_duration_s", "shares")
      for v in ("inf", "-inf", "Infinity", "NaN", "nan", "+inf", "1e999")],
    *[({"observed_at": v}, f"unparsable timestamp in observed_at: {v}") for v in
      ("last tuesday", "2024-13-45T99:00", "05/01/2024", "2024-01-05T25:00:00")],
    # observed before its video's published_at (2024-01-05 10:00 UTC), offsets honoured
    ({"observed_at": "2024-01-05T09:59:59Z"}, "observed_at before the video's published_at"),
    ({"observed_at": "2024-01-05T11:30:00+02:00"}, "observed_at before the video's published_at"),
    ({"observed_at": "2024-01-05T10:00:00Z"}, None),  # exactly at the publish moment
    ({"observed_at": "2024-01-05T10:00:01"}, None),
    ({"video_id": "unknown-yet", "observed_at": "2020-01-01T00:00:00Z"}, None),  # video not known: kept
]


def _case_id(case: tuple[dict, str | None]) -> str:
    changes, reason = case
    return (",".join(f"{k}={v!r}" for k, v in changes.items()) or "reference") + f"->{reason or 'valid'}"


def _reasons(result, n: int) -> dict[int, str | None]:
    assert len(result.valid) + len(result.quarantined) == n
    reasons: dict[int, str | None] = {int(r): None for r in result.valid["row_number"]}
    reasons.update(zip(result.quarantined["row_number"].astype(int), result.quarantined["reason"]))
    assert sorted(reasons) == list(range(1, n + 1))
    return reasons


@pytest.fixture(scope="module")
def video_reasons() -> dict[int, str | None]:
    return _reasons(validate_videos(raw_frame([video(**c) for c, _ in VIDEO_CASES])), len(VIDEO_CASES))


@pytest.fixture(scope="module")
def metric_reasons() -> dict[int, str | None]:
    raw = raw_frame([metric(**c) for c, _ in METRIC_CASES])
    return _reasons(validate_metrics(raw, PUBLISHED), len(METRIC_CASES))


@pytest.mark.parametrize("index", range(len(VIDEO_CASES)), ids=[_case_id(c) for c in VIDEO_CASES])
def test_video_row_rule(video_reasons, index):
    assert video_reasons[index + 1] == VIDEO_CASES[index][1]


@pytest.mark.parametrize("index", range(len(METRIC_CASES)), ids=[_case_id(c) for c in METRIC_CASES])
def test_metric_row_rule(metric_reasons, index):
    assert metric_reasons[index + 1] == METRIC_CASES[index][1]


def test_each_row_is_judged_alone():
    """The same rows one at a time give the same reasons as in one frame (no cross-row effects)."""
    for changes, reason in VIDEO_CASES[:: max(1, len(VIDEO_CASES) // 5)]:
        result = validate_videos(raw_frame([video(**changes)]))
        assert (None if result.quarantined.empty else result.quarantined.at[0, "reason"]) == reason


def test_required_column_absent_from_the_frame_quarantines_every_row():
    frame = raw_frame([{k: v for k, v in VIDEO.items() if k != "topic"}] * 2)
    result = validate_videos(frame)
    assert result.valid.empty
    assert result.quarantined["reason"].tolist() == ["required value missing: topic"] * 2


def test_metric_rule_without_known_videos_keeps_early_snapshots():
    result = validate_metrics(raw_frame([metric(observed_at="2020-01-01T00:00:00Z")]), None)
    assert result.quarantined.empty and len(result.valid) == 1


def test_timestamps_with_and_without_offsets_become_naive_utc():
    texts = [
        "2024-01-05T10:00:00Z",
        "2024-01-05T10:00:00",  # no offset means UTC
        "2024-01-05 10:00:00+00:00",
        "2024-01-05T12:00:00+02:00",
        "2024-01-05T04:30:00-05:30",
        "2024-01-05",  # midnight UTC
    ]
    rows = [video(video_id=f"v{i}", published_at=t) for i, t in enumerate(texts)]
    result = validate_videos(raw_frame(rows))
    assert result.quarantined.empty
    published = result.valid["published_at"]
    assert published.dt.tz is None
    expected = [pd.Timestamp("2024-01-05 10:00:00")] * 5 + [pd.Timestamp("2024-01-05 00:00:00")]
    assert published.tolist() == expected

    observed = validate_metrics(raw_frame([metric(observed_at="2024-01-05T18:15:30.250+01:00")])).valid["observed_at"]
    assert observed.dt.tz is None
    assert observed.iloc[0] == pd.Timestamp("2024-01-05 17:15:30.250")


def test_vocabulary_is_normalised_to_lower_case():
    result = validate_videos(raw_frame([video(hook_type=" Question ", ending_type="CTA", generation_mode="Explore")]))
    row = result.valid.iloc[0]
    assert (row["hook_type"], row["ending_type"], row["generation_mode"]) == ("question", "cta", "explore")


def test_scene_count_is_an_integer():
    result = validate_videos(raw_frame([video(scene_count=v) for v in ("5", "10", "7.0")]))
    assert result.valid["scene_count"].tolist() == [5, 10, 7]


# --------------------------------------------------------------------------- buckets


def test_wpm_bucket_derived_at_boundaries():
    cases = {"0": "slow", "119.9": "slow", "120": "medium", "140": "medium", "160": "medium", "160.1": "fast", "400": "fast"}
    result = validate_videos(raw_frame([video(narration_wpm=wpm) for wpm in cases]))
    assert result.quarantined.empty
    assert result.valid["narration_wpm_bucket"].tolist() == list(cases.values())
    assert result.valid["narration_wpm"].tolist() == [float(w) for w in cases]


def test_caption_bucket_derived_at_boundaries():
    cases = {"0": "sparse", "0.29": "sparse", "0.3": "medium", "0.45": "medium", "0.6": "medium", "0.61": "dense"}
    result = validate_videos(raw_frame([video(caption_density=d) for d in cases]))
    assert result.quarantined.empty
    assert result.valid["caption_density_bucket"].tolist() == list(cases.values())


def test_bucket_given_directly_without_number():
    row = video(narration_wpm=None, narration_wpm_bucket="Fast", caption_density=None, caption_density_bucket="sparse")
    result = validate_videos(raw_frame([row]))
    assert result.quarantined.empty
    got = result.valid.iloc[0]
    assert (got["narration_wpm_bucket"], got["caption_density_bucket"]) == ("fast", "sparse")
    assert pd.isna(got["narration_wpm"]) and pd.isna(got["caption_density"])
    assert got["recipe_hash"] is not None


# --------------------------------------------------------------------------- recipe and topic hashes


def test_full_recipe_gets_its_hash_and_topic_hash():
    result = validate_videos(raw_frame([video()]))
    row = result.valid.iloc[0]
    canonical = (
        '{"caption_density_bucket":"medium","ending_type":"cliffhanger","hook_type":"question",'
        '"narration_wpm_bucket":"medium","preset":"DARK_DYSTOPIAN_ANIME","scene_count":7}'
    )
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert row["recipe_hash"] == expected
    assert row["topic_hash"] == topic_hash("The lost city")


def test_partial_recipe_is_a_manual_video():
    dropped = [
        ("preset",),
        ("hook_type", "ending_type"),
        ("scene_count",),
        ("narration_wpm",),
        ("caption_density",),
        ("preset", "hook_type", "scene_count", "ending_type", "narration_wpm", "caption_density"),
    ]
    result = validate_videos(raw_frame([video(**{c: None for c in cols}) for cols in dropped]))
    assert result.quarantined.empty
    assert result.valid["recipe_hash"].tolist() == [None] * len(dropped)
    assert set(result.valid["topic_hash"]) == {topic_hash("The lost city")}


def test_manual_video_keeps_the_recipe_columns_it_has():
    result = validate_videos(raw_frame([video(scene_count=None)]))
    row = result.valid.iloc[0]
    assert row["recipe_hash"] is None
    assert (row["preset"], row["hook_type"], row["narration_wpm_bucket"]) == ("DARK_DYSTOPIAN_ANIME", "question", "medium")


# --------------------------------------------------------------------------- quarantine output


def test_quarantine_has_first_reason_row_number_and_raw_text():
    rows = [
        video(video_id="ok"),
        video(video_id="bad", topic=None, hook_type="shouting"),  # two broken rules: the first is reported
        video(video_id="also-ok"),
        video(video_id="bad2", quality_score="1.7"),
    ]
    result = validate_videos(raw_frame(rows))
    assert result.valid["video_id"].tolist() == ["ok", "also-ok"]
    assert result.valid["row_number"].tolist() == [1, 3]
    q = result.quarantined
    assert q["row_number"].tolist() == [2, 4]
    assert q["reason"].tolist() == ["required value missing: topic", "quality_score outside [0, 1]"]
    raw = json.loads(q.at[1, "raw"])
    assert raw["quality_score"] == "1.7" and raw["scene_count"] == "7" and raw["video_id"] == "bad2"
    assert "row_number" not in raw
    assert json.loads(q.at[0, "raw"])["topic"] is None


def test_metrics_values_are_typed():
    result = validate_metrics(raw_frame([metric(followers_gained="3", shares=None)]))
    row = result.valid.iloc[0]
    assert (row["views"], row["likes"], row["comments"], row["followers_gained"]) == (100, 10, 2, 3)
    assert pd.isna(row["shares"])
    assert row["avg_view_duration_s"] == 21.5


def test_missing_columns_and_latest_per_key():
    assert missing_columns("metrics", ["project_id", " video_id ", "observed_at", "likes"]) == [
        "views",
        "comments",
        "avg_view_duration_s",
    ]
    assert missing_columns("videos", list(VIDEO)) == []
    frame = pd.DataFrame({"project_id": ["p", "p", "p"], "video_id": ["a", "b", "a"], "topic": ["old", "x", "new"]})
    latest = latest_per_key(frame, ["project_id", "video_id"])
    assert latest.set_index("video_id")["topic"].to_dict() == {"b": "x", "a": "new"}


# --------------------------------------------------------------------------- nothing is dropped, nothing raises

CELL = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "proj", "v1", "nan", "-inf", "1e999", "1e30", "-1", "0", "7", "7.5", "0.3", "160", "question", "medium",
         "2024-01-05T10:00:00Z", "2024-01-05T09:00:00+05:00", "2024-13-01", "9" * 40]
    ),
)


def _rows(kind: str) -> st.SearchStrategy:
    return st.lists(st.fixed_dictionaries({c: CELL for c in KNOWN_COLUMNS[kind]}), max_size=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows("videos"))
def test_videos_every_row_accounted_for(rows):
    raw = raw_frame(rows) if rows else raw_frame([]).assign(**{c: pd.Series([], dtype=object) for c in VIDEO})
    result = validate_videos(raw)
    assert len(result.valid) + len(result.quarantined) == len(raw)
    assert sorted(result.valid["row_number"].tolist() + result.quarantined["row_number"].tolist()) == list(
        range(1, len(raw) + 1)
    )
    for text in result.quarantined["raw"]:
        json.loads(text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows("metrics"), with_published=st.booleans())
def test_metrics_every_row_accounted_for(rows, with_published):
    raw = raw_frame(rows) if rows else raw_frame([]).assign(**{c: pd.Series([], dtype=object) for c in METRIC})
    result = validate_metrics(raw, PUBLISHED if with_published else None)
    assert len(result.valid) + len(result.quarantined) == len(raw)
    assert set(result.valid["row_number"]).isdisjoint(result.quarantined["row_number"])
    for text in result.quarantined["raw"]:
        json.loads(text)
