"""Uploaded (hand-edited) bundles: validation and how a manual bundle is measured."""

from __future__ import annotations

import pytest

from learning_loop.domain.active_learning.agents import AgentBounds
from learning_loop.domain.active_learning.bundles import (
    BundleUploadError,
    manual_bundle,
    parse_upload,
    validate_uploaded_bundle,
)
from learning_loop.domain.active_learning.training import diff_bundles, holdout_examples, train_bundle
from learning_loop_tests.domain.active_learning.helpers import synthetic_labels

AGENTS = {"inbox_triage", "post_gate"}
PARAMS = {"decision_threshold", "risk_score_threshold", "spf_dkim_weight"}
DOC = {"agent": "inbox_triage", "thresholds": {"risk_score_threshold": 68.0, "spf_dkim_weight": 1.4}}


def test_valid_upload():
    assert validate_uploaded_bundle(DOC, AGENTS, PARAMS, AgentBounds()) == (
        "inbox_triage",
        {"risk_score_threshold": 68.0, "spf_dkim_weight": 1.4},
    )
    # no known parameters yet: any name is accepted, bounds still apply
    assert validate_uploaded_bundle({**DOC, "thresholds": {"x_weight": 2}}, AGENTS, None, AgentBounds())[1] == {"x_weight": 2.0}


@pytest.mark.parametrize(
    "doc, message",
    [
        ([1, 2], "must be a JSON object"),
        ({"agent": "inbox_triage"}, "missing key(s): thresholds"),
        ({**DOC, "model": "x"}, "unknown key(s): model"),
        ({**DOC, "agent": "Inbox"}, "invalid agent name"),
        ({**DOC, "agent": "billing"}, "unknown agent 'billing'"),
        ({**DOC, "thresholds": [68]}, "thresholds must be a non-empty object"),
        ({**DOC, "thresholds": {}}, "thresholds must be a non-empty object"),
        ({**DOC, "thresholds": {"spf_dkim_weight": "1.4"}}, "spf_dkim_weight must be a finite number, got '1.4'"),
        ({**DOC, "thresholds": {"spf_dkim_weight": True}}, "spf_dkim_weight must be a finite number"),
        ({**DOC, "thresholds": {"spf_dkim_weight": float("nan")}}, "spf_dkim_weight must be a finite number"),
        ({**DOC, "thresholds": {"tone_weight": 1.0}}, "unknown parameter(s) for inbox_triage: tone_weight"),
        ({**DOC, "thresholds": {"risk_score_threshold": 95}}, "risk_score_threshold=95 outside [30, 90]"),
        ({**DOC, "thresholds": {"decision_threshold": 0.99}}, "decision_threshold=0.99 outside [0.05, 0.95]"),
        ({**DOC, "thresholds": {"spf_dkim_weight": -11}}, "spf_dkim_weight=-11 outside [-10, 10]"),
    ],
)
def test_bad_uploads(doc, message):
    with pytest.raises(BundleUploadError) as info:
        validate_uploaded_bundle(doc, AGENTS, PARAMS, AgentBounds())
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_configured_bounds_apply():
    bounds = AgentBounds({"spf_dkim_weight": (0.0, 1.0)})
    with pytest.raises(BundleUploadError, match=r"spf_dkim_weight=1.4 outside \[0, 1\]"):
        validate_uploaded_bundle(DOC, AGENTS, PARAMS, bounds)
    assert parse_upload(DOC)[0] == "inbox_triage"


@pytest.fixture(scope="module")
def base():
    return train_bundle(synthetic_labels(200, seed=5), agent="inbox_triage", as_of="2024-02-01", seed=1)


def test_manual_bundle_without_edits_measures_like_its_base(base):
    same = manual_bundle("inbox_triage", {}, "2024-02-02T10:00:00Z", base)
    assert same.bundle_id == "inbox_triage_20240202_100000_manual"
    assert same.source == "manual" and same.base_bundle_id == base.bundle_id
    assert same.accuracy == base.accuracy and same.training_count == base.training_count
    assert same.thresholds == base.thresholds
    assert diff_bundles(same, base)["accuracy_delta"] == 0.0
    assert holdout_examples(same)["example_id"].tolist() == list(base.holdout_ids)


def test_manual_weight_edits_change_the_model(base):
    flipped = {k: -v for k, v in base.thresholds.items() if k.endswith("_weight")}
    worse = manual_bundle("inbox_triage", flipped, "2024-02-02", base)
    assert worse.thresholds["risk_score_weight"] == -base.thresholds["risk_score_weight"]
    assert worse.accuracy < base.accuracy - 0.3
    diff = diff_bundles(worse, base)
    assert diff["accuracy_delta"] == pytest.approx(worse.accuracy - base.accuracy, abs=1e-6)
    cutoff = manual_bundle("inbox_triage", {"decision_threshold": 0.95}, "2024-02-02", base)
    assert cutoff.accuracy != base.accuracy  # the cut-off is applied too


def test_manual_bundle_without_base_has_no_accuracy():
    lone = manual_bundle("inbox_triage", {"risk_score_threshold": 68.0}, "2024-02-02")
    assert lone.model is None and lone.accuracy is None and lone.training_count is None
    assert lone.model_type == "manual"
    assert diff_bundles(lone, None) == {
        "changes": [{"param": "risk_score_threshold", "old": None, "new": 68.0, "delta": None}],
        "accuracy_delta": None,
    }


def test_manual_bundle_of_another_agents_base_is_refused(base):
    with pytest.raises(BundleUploadError, match="belongs to inbox_triage"):
        manual_bundle("post_gate", {}, "2024-02-02", base)
