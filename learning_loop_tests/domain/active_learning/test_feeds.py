"""Landing rules of labels, judgments and decisions (SPEC §9)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.validation import (
    KEY_COLUMNS,
    KNOWN_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_VALIDATORS,
    expand_features,
    features_json,
    is_known_column,
    missing_columns,
    validate_decisions,
    validate_judgments,
    validate_labels,
)
from learning_loop_tests.domain.active_learning.helpers import raw_frame

LABEL = {
    "agent": "inbox_triage",
    "example_id": "ex1",
    "source": "gold",
    "label": "1",
    "labeled_at": "2024-01-15T10:00:00Z",
    "f_risk_score": "70",
    "f_spf_dkim": "1.5",
}
JUDGMENT = {"agent": "inbox_triage", "example_id": "ex1", "judge": "gpt-4", "score": "0.8", "judged_at": "2024-01-15"}
DECISION = {
    "agent": "inbox_triage",
    "decision_id": "d1",
    "bundle_id": "inbox_triage_20240115_100000",
    "decided_at": "2024-01-15T10:00:00+02:00",
    "quality": "0.9",
    "latency_ms": "120",
}


def only_reason(validate, row: dict) -> str:
    result = validate(raw_frame([row]))
    assert result.valid.empty, f"row unexpectedly valid: {row}"
    assert len(result.quarantined) == 1
    return result.quarantined.loc[0, "reason"]


@pytest.mark.parametrize("column", ["agent", "example_id", "source", "label", "labeled_at"])
def test_label_required_values(column):
    assert only_reason(validate_labels, {**LABEL, column: "  "}) == f"required value missing: {column}"


@pytest.mark.parametrize(
    "change, reason_part",
    [
        ({"agent": "Inbox_Triage"}, "invalid agent name"),
        ({"agent": "1inbox"}, "invalid agent name"),
        ({"agent": "inbox-triage"}, "invalid agent name"),
        ({"source": "crowd"}, "unknown source: crowd"),
        ({"label": "2"}, "label is not 0 or 1: 2"),
        ({"label": "0.5"}, "label is not 0 or 1"),
        ({"label": "yes"}, "unparsable number in label: yes"),
        ({"labeled_at": "yesterday"}, "unparsable timestamp in labeled_at"),
        ({"confidence": "101"}, "confidence outside [0, 100]"),
        ({"confidence": "-1"}, "confidence outside [0, 100]"),
        ({"confidence": "high"}, "unparsable number in confidence"),
        ({"f_risk_score": "abc"}, "unparsable number in f_risk_score: abc"),
        ({"f_spf_dkim": "inf"}, "non-finite number in f_spf_dkim"),
        ({"f_spf_dkim": "NaN"}, "non-finite number in f_spf_dkim"),
        ({"f_extra": "1e999"}, "non-finite number in f_extra"),
    ],
)
def test_label_bad_rows(change, reason_part):
    assert reason_part in only_reason(validate_labels, {**LABEL, **change})


def test_label_valid_row_is_typed_with_features_as_float_and_json():
    rows = [
        LABEL,
        {**LABEL, "example_id": "ex2", "source": "Feedback", "label": "0", "f_risk_score": "", "confidence": "80",
         "labeled_at": "2024-01-15T12:00:00+02:00", "labeler": "ann"},
    ]
    result = validate_labels(raw_frame(rows))
    assert result.quarantined.empty
    valid = result.valid
    assert list(valid["label"]) == [1, 0]
    assert list(valid["source"]) == ["gold", "feedback"]
    assert valid["f_risk_score"].dtype == np.float64
    assert valid.loc[0, "f_risk_score"] == 70.0 and np.isnan(valid.loc[1, "f_risk_score"])
    assert valid.loc[1, "labeled_at"] == pd.Timestamp("2024-01-15 10:00:00")  # +02:00 stored as naive UTC
    assert valid["labeled_at"].dt.tz is None
    assert json.loads(valid.loc[0, "features"]) == {"risk_score": 70.0, "spf_dkim": 1.5}
    assert json.loads(valid.loc[1, "features"]) == {"spf_dkim": 1.5}  # missing feature omitted
    assert valid.loc[1, "confidence"] == 80.0 and valid.loc[1, "labeler"] == "ann"


def test_label_rows_are_all_accounted_for():
    rows = [LABEL, {**LABEL, "label": "2"}, {**LABEL, "example_id": "ex3"}, {**LABEL, "f_spf_dkim": "x"}]
    result = validate_labels(raw_frame(rows))
    assert len(result.valid) + len(result.quarantined) == len(rows)
    assert list(result.valid["row_number"]) == [1, 3]
    assert list(result.quarantined["row_number"]) == [2, 4]
    assert json.loads(result.quarantined.loc[1, "raw"])["f_spf_dkim"] == "x"


def test_features_json_and_expand_round_trip():
    frame = pd.DataFrame({"f_b": [1.0, np.nan], "f_a": [np.nan, np.nan], "other": [1, 2]})
    text = features_json(frame)
    assert list(text) == ['{"b": 1.0}', "{}"]
    back = expand_features(pd.DataFrame({"features": text}))
    assert list(back.columns) == ["features", "f_b"]
    assert back["f_b"].iloc[0] == 1.0 and np.isnan(back["f_b"].iloc[1])
    assert list(features_json(pd.DataFrame({"x": [1]}))) == ["{}"]


@pytest.mark.parametrize("column", ["agent", "example_id", "judge", "score", "judged_at"])
def test_judgment_required_values(column):
    assert only_reason(validate_judgments, {**JUDGMENT, column: None}) == f"required value missing: {column}"


@pytest.mark.parametrize(
    "change, reason_part",
    [
        ({"score": "1.5"}, "score outside [0, 1]"),
        ({"score": "-0.1"}, "score outside [0, 1]"),
        ({"score": "good"}, "unparsable number in score"),
        ({"agent": "Bad Agent"}, "invalid agent name"),
        ({"judged_at": "15/01/2024"}, "unparsable timestamp in judged_at"),
    ],
)
def test_judgment_bad_rows(change, reason_part):
    assert reason_part in only_reason(validate_judgments, {**JUDGMENT, **change})


def test_judgment_valid_row():
    valid = validate_judgments(raw_frame([JUDGMENT])).valid
    assert valid.loc[0, "score"] == 0.8 and valid.loc[0, "judge"] == "gpt-4"
    assert valid.loc[0, "judged_at"] == pd.Timestamp("2024-01-15")


@pytest.mark.parametrize("column", ["agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms"])
def test_decision_required_values(column):
    assert only_reason(validate_decisions, {**DECISION, column: ""}) == f"required value missing: {column}"


@pytest.mark.parametrize(
    "change, reason_part",
    [
        ({"latency_ms": "-5"}, "negative latency_ms"),
        ({"latency_ms": "-inf"}, "non-finite number in latency_ms"),
        ({"quality": "1.2"}, "quality outside [0, 1]"),
        ({"quality": "-0.2"}, "quality outside [0, 1]"),
        ({"agent": "_x"}, "invalid agent name"),
        ({"decided_at": "soon"}, "unparsable timestamp in decided_at"),
    ],
)
def test_decision_bad_rows(change, reason_part):
    assert reason_part in only_reason(validate_decisions, {**DECISION, **change})


def test_decision_valid_row_with_optional_route_key():
    valid = validate_decisions(raw_frame([DECISION, {**DECISION, "decision_id": "d2", "route_key": "user-7"}])).valid
    assert list(valid["route_key"].isna()) == [True, False]
    assert valid.loc[0, "decided_at"] == pd.Timestamp("2024-01-15 08:00:00")
    assert valid.loc[0, "latency_ms"] == 120.0


def test_kind_mappings_cover_the_new_kinds():
    assert missing_columns("labels", ["agent", "example_id", "label"]) == ["source", "labeled_at"]
    assert missing_columns("judgments", list(JUDGMENT)) == []
    assert missing_columns("decisions", ["agent"]) == ["decision_id", "bundle_id", "decided_at", "quality", "latency_ms"]
    assert set(REQUIRED_COLUMNS) == set(KNOWN_COLUMNS) == set(KEY_COLUMNS) >= {"labels", "judgments", "decisions"}
    assert KEY_COLUMNS["labels"] == ("agent", "example_id", "source")
    assert KEY_COLUMNS["judgments"] == ("agent", "example_id", "judge")
    assert KEY_COLUMNS["decisions"] == ("agent", "decision_id")
    assert is_known_column("labels", "f_risk_score") and is_known_column("labels", "expected_output")
    assert not is_known_column("labels", "f_") and not is_known_column("decisions", "f_risk_score")
    assert is_known_column("decisions", "route_key") and not is_known_column("judgments", "route_key")
    assert ROW_VALIDATORS["labels"] is validate_labels and ROW_VALIDATORS["decisions"] is validate_decisions
