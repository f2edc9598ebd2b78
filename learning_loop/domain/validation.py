"""Row rules for landing files (SPEC §2 and §9), vectorised over a frame of raw text.

Input: a frame whose values are the file's raw text (None for an empty cell)
plus the 1-based data row number. Output: the rows that pass, typed and
normalised, and the rows that fail with the first rule each broke. Nothing is
dropped: `len(valid) + len(quarantined) == len(raw)`.

Every kind also has the rule "text PostgreSQL cannot store" (a NUL byte,
`\x00`, in any text value kept): checked last, the same on every backend, so
one warehouse never loads a row the other would refuse. Reasons are made
storable too (`storable_text`); the raw row is JSON, which escapes NUL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from learning_loop.domain.recipe import (
    CAPTION_BUCKETS,
    ENDING_TYPES,
    HOOK_TYPES,
    PRESET_PATTERN,
    RECIPE_FIELDS,
    SCENE_COUNT_MAX,
    SCENE_COUNT_MIN,
    WPM_BUCKETS,
    caption_density_bucket,
    narration_wpm_bucket,
    recipe_hash,
    topic_hash,
)

VIDEO_REQUIRED = ("project_id", "video_id", "published_at", "topic")
METRIC_REQUIRED = ("project_id", "video_id", "observed_at", "views", "likes", "comments", "avg_view_duration_s")
METRIC_COUNTS = ("views", "likes", "comments", "followers_gained", "shares")
GENERATION_MODES = ("exploit", "explore", "manual")
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "quality_score": (0.0, 1.0),
    "novelty_score": (0.0, 1.0),
    "expertise_level": (0.0, 1.0),
    "viral_score": (0.0, 100.0),
}
VIDEO_OPTIONAL = (
    "preset",
    "hook_type",
    "scene_count",
    "ending_type",
    "narration_wpm",
    "narration_wpm_bucket",
    "caption_density",
    "caption_density_bucket",
    "content_type",
    *SCORE_RANGES,
    "job_id",
    "generation_mode",
)
METRIC_OPTIONAL = ("followers_gained", "shares")

# Active-learning kinds (SPEC §9).
#: Agent names: lower-case letter, then lower-case letters, digits or underscores.
AGENT_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: Label sources, weakest first: gold wins over approvals, approvals over feedback.
LABEL_SOURCES = ("approvals", "feedback", "gold")
#: Every labels column named `f_<name>` is a numeric feature called `<name>`.
FEATURE_PREFIX = "f_"
LABEL_REQUIRED = ("agent", "example_id", "source", "label", "labeled_at")
LABEL_OPTIONAL = ("confidence", "labeler", "input_text", "expected_output")
CONFIDENCE_RANGE = (0.0, 100.0)
JUDGMENT_REQUIRED = ("agent", "example_id", "judge", "score", "judged_at")
JUDGMENT_OPTIONAL: tuple[str, ...] = ()
DECISION_REQUIRED = ("agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms")
DECISION_OPTIONAL = ("route_key",)
RETRIEVAL_REQUIRED = ("query", "document", "relevant", "observed_at")
RETRIEVAL_OPTIONAL: tuple[str, ...] = ()

REQUIRED_COLUMNS = {
    "videos": VIDEO_REQUIRED,
    "metrics": METRIC_REQUIRED,
    "labels": LABEL_REQUIRED,
    "judgments": JUDGMENT_REQUIRED,
    "decisions": DECISION_REQUIRED,
    "retrieval_pairs": RETRIEVAL_REQUIRED,
}
#: Named columns of each kind; for `labels` every `f_<name>` column is known too (see `is_known_column`).
KNOWN_COLUMNS = {
    "videos": VIDEO_REQUIRED + VIDEO_OPTIONAL,
    "metrics": METRIC_REQUIRED + METRIC_OPTIONAL,
    "labels": LABEL_REQUIRED + LABEL_OPTIONAL,
    "judgments": JUDGMENT_REQUIRED + JUDGMENT_OPTIONAL,
    "decisions": DECISION_REQUIRED + DECISION_OPTIONAL,
    "retrieval_pairs": RETRIEVAL_REQUIRED + RETRIEVAL_OPTIONAL,
}
#: Supersede key of each kind: a later row for the same key replaces an earlier one.
KEY_COLUMNS = {
    "videos": ("project_id", "video_id"),
    "metrics": ("project_id", "video_id", "observed_at"),
    "labels": ("agent", "example_id", "source"),
    "judgments": ("agent", "example_id", "judge"),
    # the contract names no key for retrieval feedback: one observation of a (query, document) pair
    "retrieval_pairs": ("query", "document", "observed_at"),
    "decisions": ("agent", "decision_id"),
}
#: Characters a text value may not hold: PostgreSQL's text type cannot store NUL.
UNSTORABLE_CHARACTERS = ("\x00",)
#: Largest count stored exactly: numbers are parsed as float64, whose integers are exact up to 2**53.
MAX_COUNT = 2**53
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass
class Validated:
    valid: pd.DataFrame  # typed rows, with `row_number`
    quarantined: pd.DataFrame  # row_number, reason, raw (JSON text)


def storable_text(text: str) -> str:
    """`text` with the characters no backend may store written as escapes (`\\x00`)."""
    for char in UNSTORABLE_CHARACTERS:
        text = text.replace(char, char.encode("unicode_escape").decode("ascii"))
    return text


def _clean_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


#: A value whose first and last characters match this cannot change when stripped.
_PLAIN_ENDS = r"^[\pL\pN].*[\pL\pN]$|^[\pL\pN]$"


def clean_text_column(values: pd.Series) -> pd.Series:
    """`_clean_text` of every value (stripped text, None for empty or missing), vectorised: only
    values that start or end with something other than a letter or digit are stripped in Python."""
    return _clean_column(values)[0]


def _clean_column(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(`clean_text_column(values)`, which cleaned values hold a character no backend can store)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (TypeError, ValueError, pa.ArrowException):  # not all text: value by value
        cleaned = pd.Series([_clean_text(v) for v in values], index=values.index, dtype=object)
        holds = np.array([isinstance(v, str) and any(c in v for c in UNSTORABLE_CHARACTERS) for v in cleaned], dtype=bool)
        return cleaned, holds
    holds = np.zeros(len(values), dtype=bool)
    for char in UNSTORABLE_CHARACTERS:
        holds |= pc.fill_null(pc.match_substring(array, char), False).to_numpy(zero_copy_only=False)
    plain = pc.match_substring_regex(array, _PLAIN_ENDS).to_numpy(zero_copy_only=False)
    plain = np.asarray(plain, dtype=object)
    out = values.astype(object).to_numpy(copy=True)
    missing = pd.isna(plain)
    out[missing] = None
    needs = np.flatnonzero(~missing & (plain == False))  # noqa: E712 - element-wise on an object array
    for i in needs:
        out[i] = out[i].strip() or None
    return pd.Series(out, index=values.index, dtype=object), holds


def _lower_each(text: pd.Series) -> pd.Series:
    """Lower-case text, computed once per distinct value."""
    distinct = text.dropna().unique()
    if len(distinct) == 0:
        return text
    return text.map({v: v.lower() for v in distinct}).astype(object).where(text.notna(), None)


class _Rules:
    """Accumulates the first failing reason per row."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.reason = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        self._open = np.ones(len(raw), dtype=bool)  # rows without a reason yet
        self._texts: dict[str, pd.Series] = {}
        self._unstorable: dict[str, np.ndarray] = {}
        self._present: dict[str, pd.Series] = {}

    def fail(self, mask: pd.Series, reason: str | pd.Series, detail: pd.Series | None = None) -> None:
        """Rows of `mask` without a reason yet fail with `reason` (+ their `detail` text, if given)."""
        values = mask.to_numpy() if mask.dtype == bool else mask.fillna(False).astype(bool).to_numpy()
        chosen = values & self._open
        if chosen.any():
            self._open &= ~chosen
            mask = pd.Series(chosen, index=self.reason.index)
            if detail is not None:
                self.reason[mask] = reason + detail[mask].astype(str)
            elif isinstance(reason, pd.Series):
                self.reason[mask] = reason[mask]
            else:
                self.reason[mask] = reason

    def text(self, column: str) -> pd.Series:
        """Stripped text; None for a missing column, an empty cell or a null."""
        if column not in self._texts:
            if column in self.raw.columns:
                self._texts[column], self._unstorable[column] = _clean_column(self.raw[column])
            else:
                self._texts[column] = pd.Series([None] * len(self.raw), index=self.raw.index, dtype=object)
            self._present[column] = self._texts[column].notna()
        return self._texts[column].copy()

    def present(self, column: str) -> pd.Series:
        """Whether `text(column)` has a value (computed once per column)."""
        self.text(column)
        return self._present[column]

    def required(self, columns: tuple[str, ...]) -> None:
        for column in columns:
            self.fail(~self.present(column), f"required value missing: {column}")

    def number(self, column: str, *, count: bool = False) -> pd.Series:
        """Parse a numeric column; unparsable, non-finite and negative-count rows fail."""
        text = self.text(column)
        present = self.present(column)
        if not present.any():  # an absent optional column: nothing to parse
            return pd.Series(np.nan, index=self.raw.index, dtype="float64")
        parsed = pd.to_numeric(text, errors="coerce").astype("float64")
        # only values that did not parse to a finite number can be spelled nan/inf/infinity
        odd = present & (parsed.isna() | np.isinf(parsed))
        non_finite = odd & _lower_each(text.where(odd, None)).isin(_NON_FINITE)
        parsed = parsed.where(~non_finite)
        non_finite |= present & np.isinf(parsed)
        self.fail(non_finite, f"non-finite number in {column}")
        self.fail(present & parsed.isna(), f"unparsable number in {column}: ", text)
        if count:
            self.fail(present & (parsed < 0), f"negative count in {column}")
            self.fail(present & (parsed.notna()) & (parsed % 1 != 0), f"count is not a whole number in {column}")
            self.fail(present & (parsed > MAX_COUNT), f"count too large in {column} (above {MAX_COUNT})")
        return parsed.where(~non_finite)

    def timestamp(self, column: str) -> pd.Series:
        """ISO-8601; no offset means UTC. Returned naive in UTC."""
        text = self.text(column)
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        self.fail(text.notna() & parsed.isna(), f"unparsable timestamp in {column}: ", text)
        return parsed.dt.tz_localize(None).astype("datetime64[us]")

    def choice(self, column: str, allowed: tuple[str, ...]) -> pd.Series:
        if not self.present(column).any():
            return self.text(column)
        text = _lower_each(self.text(column))
        self.fail(text.notna() & ~text.isin(allowed), f"unknown {column}: ", text)
        return text

    def agent(self, column: str = "agent") -> pd.Series:
        """An agent name, kept as written; anything not `[a-z][a-z0-9_]*` fails."""
        text = self.text(column)
        distinct = {v: AGENT_PATTERN.fullmatch(v) is None for v in text.dropna().unique()}
        bad = text.map(distinct).eq(True)
        self.fail(bad, f"invalid {column} name (expected [a-z][a-z0-9_]*): ", text)
        return text

    def in_range(self, column: str, values: pd.Series, low: float, high: float) -> None:
        self.fail(values.notna() & ((values < low) | (values > high)), f"{column} outside [{low:g}, {high:g}]")

    def unstorable(self, typed: pd.DataFrame) -> None:
        """Text values PostgreSQL cannot store (a NUL byte) fail, on every backend. Every text value
        kept comes from `text(column)` (as is, lower- or upper-cased) under its own column name."""
        for column in typed.columns:
            holds = self._unstorable.get(column)
            if holds is not None and holds.any():
                self.fail(pd.Series(holds, index=self.reason.index), f"text PostgreSQL cannot store in {column}: NUL byte (\\x00)")

    def split(self, typed: pd.DataFrame) -> Validated:
        self.unstorable(typed)
        bad = self.reason.notna()
        raw_json = self.raw.loc[bad].drop(columns=["row_number"]).apply(
            lambda row: json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False, default=str), axis=1
        )
        quarantined = pd.DataFrame(
            {
                "row_number": self.raw.loc[bad, "row_number"].astype("int64"),
                "reason": self.reason[bad].astype(str).map(storable_text),
                "raw": raw_json if bad.any() else pd.Series([], dtype=object),
            }
        ).reset_index(drop=True)
        return Validated(valid=typed.loc[~bad].reset_index(drop=True), quarantined=quarantined)


def _as_int(values: pd.Series) -> pd.Series:
    """Whole numbers as nullable Int64; values too large to cast (rows that fail a rule) become null."""
    return values.where(values.abs() <= MAX_COUNT).round().astype("Int64")


def _json_value(value: object) -> object:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None if value is None or np.isnan(value) else str(value)  # type: ignore[arg-type]
    return value


def validate_videos(raw: pd.DataFrame) -> Validated:
    """Apply the video rules; valid rows get the recipe, its hash and the topic hash."""
    rules = _Rules(raw)
    rules.required(VIDEO_REQUIRED)
    published_at = rules.timestamp("published_at")

    preset_text = rules.text("preset")
    uppers = {v: v.upper() for v in preset_text.dropna().unique()}
    preset = preset_text.map(uppers).astype(object).where(preset_text.notna(), None)
    invalid = {v: not PRESET_PATTERN.match(v) for v in uppers.values()}
    rules.fail(preset.map(invalid).eq(True), "invalid preset")
    hook_type = rules.choice("hook_type", HOOK_TYPES)
    ending_type = rules.choice("ending_type", ENDING_TYPES)
    scene_count = rules.number("scene_count")
    rules.fail(scene_count.notna() & (scene_count % 1 != 0), "scene_count is not a whole number")
    rules.fail(
        scene_count.notna() & ((scene_count < SCENE_COUNT_MIN) | (scene_count > SCENE_COUNT_MAX)),
        f"scene_count outside {SCENE_COUNT_MIN}-{SCENE_COUNT_MAX}",
    )
    wpm, wpm_bucket = _bucket(rules, "narration_wpm", "narration_wpm_bucket", WPM_BUCKETS, narration_wpm_bucket)
    captions, caption_bucket = _bucket(
        rules, "caption_density", "caption_density_bucket", CAPTION_BUCKETS, caption_density_bucket
    )
    scores = {}
    for column, (low, high) in SCORE_RANGES.items():
        scores[column] = rules.number(column)
        rules.in_range(column, scores[column], low, high)
    mode = rules.choice("generation_mode", GENERATION_MODES)

    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "project_id": rules.text("project_id"),
            "video_id": rules.text("video_id"),
            "published_at": published_at,
            "topic": rules.text("topic"),
            "preset": preset,
            "hook_type": hook_type,
            "scene_count": _as_int(scene_count),
            "narration_wpm_bucket": wpm_bucket,
            "caption_density_bucket": caption_bucket,
            "ending_type": ending_type,
            "narration_wpm": wpm,
            "caption_density": captions,
            "content_type": rules.text("content_type"),
            **scores,
            "job_id": rules.text("job_id"),
            "generation_mode": mode,
        }
    )
    result = rules.split(typed)
    valid = result.valid
    topics = {t: topic_hash(t) for t in valid["topic"].dropna().unique()}  # each distinct value once
    valid["topic_hash"] = valid["topic"].map(topics)
    has_recipe = valid[list(RECIPE_FIELDS)].notna().all(axis=1)
    valid["recipe_hash"] = None
    if has_recipe.any():
        recipes = valid.loc[has_recipe, list(RECIPE_FIELDS)]
        codes, distinct = pd.MultiIndex.from_frame(recipes.astype(object)).factorize()  # hash each recipe once
        hashes = np.array([recipe_hash(dict(zip(RECIPE_FIELDS, row))) for row in distinct], dtype=object)
        valid.loc[has_recipe, "recipe_hash"] = hashes[codes]
    return Validated(valid=valid, quarantined=result.quarantined)


def _bucket(
    rules: _Rules, number_col: str, bucket_col: str, allowed: tuple[str, ...], to_bucket
) -> tuple[pd.Series, pd.Series]:
    """(number, bucket): the bucket given directly or derived from the number; the two must agree."""
    value = rules.number(number_col)
    rules.fail(value.notna() & (value < 0), f"negative {number_col}")
    given = rules.choice(bucket_col, allowed)
    buckets = {v: to_bucket(v) for v in value.dropna().unique() if v >= 0}  # once per distinct value
    derived = value.map(buckets).astype(object)
    derived = derived.where(derived.notna(), None)
    rules.fail(given.notna() & derived.notna() & (given != derived), f"{bucket_col} disagrees with {number_col}")
    return value, given.where(given.notna(), derived)


def validate_metrics(raw: pd.DataFrame, published: pd.DataFrame | None = None) -> Validated:
    """Apply the metric rules. `published` (project_id, video_id, published_at) enables
    the observed-before-publish rule for videos already known."""
    rules = _Rules(raw)
    rules.required(METRIC_REQUIRED)
    observed_at = rules.timestamp("observed_at")
    counts = {c: rules.number(c, count=True) for c in METRIC_COUNTS}
    avd = rules.number("avg_view_duration_s")
    rules.fail(avd.notna() & (avd < 0), "negative avg_view_duration_s")
    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "project_id": rules.text("project_id"),
            "video_id": rules.text("video_id"),
            "observed_at": observed_at,
            **{c: _as_int(counts[c]) for c in METRIC_COUNTS},
            "avg_view_duration_s": avd,
        }
    )
    if published is not None and not published.empty:
        joined = typed[["project_id", "video_id"]].merge(
            published[["project_id", "video_id", "published_at"]], on=["project_id", "video_id"], how="left"
        )
        joined.index = typed.index
        early = joined["published_at"].notna() & typed["observed_at"].notna()
        early &= typed["observed_at"] < pd.to_datetime(joined["published_at"])
        rules.fail(early, "observed_at before the video's published_at")
    return rules.split(typed)


def feature_columns(columns) -> list[str]:
    """The `f_<name>` feature columns among `columns` (name non-empty), in the given order."""
    return [c for c in columns if isinstance(c, str) and c.startswith(FEATURE_PREFIX) and len(c) > len(FEATURE_PREFIX)]


def feature_name(column: str) -> str:
    """`f_risk_score` -> `risk_score`."""
    return column[len(FEATURE_PREFIX) :]


def features_json(frame: pd.DataFrame) -> pd.Series:
    """Per row, the features as JSON text (`{"risk_score": 70.0}`), keys sorted, missing features omitted.

    This is the `features` column of the warehouse's labels table, whose schema is fixed."""
    columns = sorted(feature_columns(frame.columns))

    def encode(row) -> str:
        values = {feature_name(c): float(v) for c, v in zip(columns, row) if v is not None and pd.notna(v)}
        return json.dumps(values, sort_keys=True)

    if not columns:
        return pd.Series(["{}"] * len(frame), index=frame.index, dtype=object)
    return pd.Series([encode(row) for row in frame[columns].itertuples(index=False, name=None)], index=frame.index, dtype=object)


def expand_features(frame: pd.DataFrame, column: str = "features") -> pd.DataFrame:
    """Inverse of `features_json`: a copy with one float `f_<name>` column per feature found in the
    JSON text `column` (missing -> NaN). Existing `f_` columns are kept; JSON values fill their gaps."""
    result = frame.copy()
    if column not in result.columns:
        return result
    decoded = [json.loads(v) if isinstance(v, str) and v else {} for v in result[column]]
    names = sorted({name for values in decoded for name in values})
    for name in names:
        values = pd.Series([values.get(name) for values in decoded], index=result.index, dtype="float64")
        target = FEATURE_PREFIX + name
        result[target] = values if target not in result.columns else result[target].astype("float64").fillna(values)
    return result


def validate_labels(raw: pd.DataFrame) -> Validated:
    """Apply the labels rules (SPEC §9). Valid rows carry every `f_` column as float (NaN = missing)
    and `features`, the same values as JSON text (see `features_json`)."""
    rules = _Rules(raw)
    rules.required(LABEL_REQUIRED)
    agent = rules.agent()
    source = rules.choice("source", LABEL_SOURCES)
    label = rules.number("label")
    rules.fail(label.notna() & ~label.isin([0.0, 1.0]), "label is not 0 or 1: ", rules.text("label"))
    labeled_at = rules.timestamp("labeled_at")
    confidence = rules.number("confidence")
    rules.in_range("confidence", confidence, *CONFIDENCE_RANGE)
    features = {c: rules.number(c) for c in sorted(feature_columns(raw.columns))}
    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "agent": agent,
            "example_id": rules.text("example_id"),
            "source": source,
            "label": label.where(label.isin([0.0, 1.0])).astype("Int64"),
            "labeled_at": labeled_at,
            "confidence": confidence,
            "labeler": rules.text("labeler"),
            "input_text": rules.text("input_text"),
            "expected_output": rules.text("expected_output"),
            **{c: values.astype("float64") for c, values in features.items()},
        }
    )
    typed["features"] = features_json(typed)
    return rules.split(typed)


def validate_judgments(raw: pd.DataFrame) -> Validated:
    """Apply the judgments rules (SPEC §9)."""
    rules = _Rules(raw)
    rules.required(JUDGMENT_REQUIRED)
    agent = rules.agent()
    score = rules.number("score")
    rules.in_range("score", score, 0.0, 1.0)
    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "agent": agent,
            "example_id": rules.text("example_id"),
            "judge": rules.text("judge"),
            "score": score,
            "judged_at": rules.timestamp("judged_at"),
        }
    )
    return rules.split(typed)


def validate_decisions(raw: pd.DataFrame) -> Validated:
    """Apply the decisions rules (SPEC §9)."""
    rules = _Rules(raw)
    rules.required(DECISION_REQUIRED)
    agent = rules.agent()
    decided_at = rules.timestamp("decided_at")
    quality = rules.number("quality")
    rules.in_range("quality", quality, 0.0, 1.0)
    latency = rules.number("latency_ms")
    rules.fail(latency.notna() & (latency < 0), "negative latency_ms")
    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "agent": agent,
            "decision_id": rules.text("decision_id"),
            "bundle_id": rules.text("bundle_id"),
            "decided_at": decided_at,
            "quality": quality,
            "latency_ms": latency,
            "route_key": rules.text("route_key"),
        }
    )
    return rules.split(typed)


def validate_retrieval_pairs(raw: pd.DataFrame) -> Validated:
    """Apply the retrieval-feedback rules (background jobs: `query`, `document`, `relevant` 0/1, `observed_at`)."""
    rules = _Rules(raw)
    rules.required(RETRIEVAL_REQUIRED)
    relevant = rules.number("relevant")
    rules.fail(relevant.notna() & ~relevant.isin([0.0, 1.0]), "relevant is not 0 or 1: " + rules.text("relevant").astype(str))
    typed = pd.DataFrame(
        {
            "row_number": raw["row_number"],
            "query": rules.text("query"),
            "document": rules.text("document"),
            "relevant": relevant.astype("Int64"),
            "observed_at": rules.timestamp("observed_at"),
        }
    )
    return rules.split(typed)


#: Validators of the kinds that need nothing but the raw frame (metrics also takes the published videos).
ROW_VALIDATORS: dict[str, Callable[[pd.DataFrame], Validated]] = {
    "videos": validate_videos,
    "labels": validate_labels,
    "judgments": validate_judgments,
    "decisions": validate_decisions,
    "retrieval_pairs": validate_retrieval_pairs,
}


def is_known_column(kind: str, column: str) -> bool:
    """Whether `column` means something for `kind` (labels: the named columns and any `f_<name>`)."""
    if column in KNOWN_COLUMNS[kind]:
        return True
    return kind == "labels" and bool(feature_columns([column]))


def missing_columns(kind: str, columns: list[str]) -> list[str]:
    """Required columns absent from a file's header."""
    present = {c.strip() for c in columns}
    return [c for c in REQUIRED_COLUMNS[kind] if c not in present]


def latest_per_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Within one file a later row for the same key supersedes an earlier one."""
    return frame.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
