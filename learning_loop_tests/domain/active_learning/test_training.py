"""Bundle training and the fair diff (SPEC §10)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.active_learning.training import (
    InsufficientExamplesError,
    TrainedBundle,
    TrainingError,
    accuracy_on,
    bundle_id_for,
    diff_bundles,
    holdout_examples,
    load_model,
    reproduce,
    train_bundle,
)
from learning_loop_tests.domain.active_learning.helpers import synthetic_labels

AS_OF = "2024-03-01T00:00:00Z"


@pytest.fixture(scope="module")
def labels() -> pd.DataFrame:
    return synthetic_labels(400, seed=7)


@pytest.fixture(scope="module")
def bundle(labels) -> TrainedBundle:
    return train_bundle(labels, agent="inbox_triage", as_of=AS_OF, seed=3)


def test_bundle_json_shape_and_id(bundle):
    doc = bundle.to_json_dict()
    assert list(doc) == ["bundle_id", "agent", "model_type", "training_count", "accuracy", "thresholds"]
    assert doc["bundle_id"] == "inbox_triage_20240301_000000"
    assert doc["model_type"] == "logistic" and doc["training_count"] == 400
    assert set(doc["thresholds"]) == {"decision_threshold", "risk_score_weight", "spf_dkim_weight", "noise_weight"}
    assert 0 < doc["thresholds"]["decision_threshold"] < 1
    assert all(np.isfinite(v) and round(v, 6) == v for v in doc["thresholds"].values())
    assert bundle.features == ("noise", "risk_score", "spf_dkim")


def test_bundle_id_of_an_offset_as_of_is_utc():
    assert bundle_id_for("inbox_triage", "2024-03-01T02:30:05+02:00") == "inbox_triage_20240301_003005"
    assert bundle_id_for("post_gate", pd.Timestamp("2024-12-31 23:59:59")) == "post_gate_20241231_235959"


def test_newest_fifth_is_held_out(labels, bundle):
    newest = labels.sort_values("labeled_at")["example_id"].iloc[-80:]
    assert bundle.holdout_ids == tuple(newest)
    assert sum(r["holdout"] for r in bundle.snapshot["examples"]) == 80


def test_learns_the_known_truth(bundle):
    holdout = holdout_examples(bundle)
    baseline = max(holdout["label"].mean(), 1 - holdout["label"].mean())
    assert bundle.accuracy >= baseline + 0.15
    weights = bundle.thresholds
    assert weights["risk_score_weight"] > 1.0 and weights["spf_dkim_weight"] < -0.7
    assert abs(weights["noise_weight"]) < 0.3
    assert accuracy_on(bundle, holdout) == bundle.accuracy


def test_same_inputs_and_seed_give_an_identical_bundle(labels, bundle):
    shuffled = labels.sample(frac=1.0, random_state=11)  # row order does not matter
    again = train_bundle(shuffled, agent="inbox_triage", as_of=AS_OF, seed=3)
    assert again == bundle
    assert reproduce(bundle) == bundle  # the snapshot is enough to train it again


def test_only_examples_labeled_before_as_of_and_of_the_agent(labels):
    frame = pd.concat([labels, synthetic_labels(100, seed=8, agent="post_gate")], ignore_index=True)
    # one label per hour from 2024-01-01 00:00: 60 of them lie before 2024-01-03 12:00
    with pytest.raises(InsufficientExamplesError, match="post_gate has 60 labeled examples, fewer than --min-examples 61"):
        train_bundle(frame, agent="post_gate", as_of="2024-01-03T12:00:00", min_examples=61)


def test_insufficient_examples_names_both_numbers(labels):
    with pytest.raises(InsufficientExamplesError, match=r"^inbox_triage has 42 labeled examples, fewer than --min-examples 50$"):
        train_bundle(labels.iloc[:42], agent="inbox_triage", as_of=AS_OF)
    with pytest.raises(InsufficientExamplesError, match="has 0 labeled examples"):
        train_bundle(labels, agent="nobody", as_of=AS_OF)


def test_min_confidence_filters_labels(labels):
    frame = labels.iloc[:120].copy()
    frame["confidence"] = [95.0 if i % 2 else 40.0 for i in range(120)]
    frame.loc[frame.index[:4], "confidence"] = np.nan  # unknown confidence is left out too
    with pytest.raises(InsufficientExamplesError, match="has 58 labeled examples with confidence >= 80, fewer than --min-examples 100"):
        train_bundle(frame, agent="inbox_triage", as_of=AS_OF, min_examples=100, min_confidence=80)


def test_one_label_value_is_a_clear_error(labels):
    frame = labels.iloc[:60].assign(label=1)
    with pytest.raises(TrainingError, match="have label 1; a bundle needs both 0 and 1"):
        train_bundle(frame, agent="inbox_triage", as_of=AS_OF)


def test_bad_parameters_and_no_features(labels):
    with pytest.raises(TrainingError, match="unknown model type"):
        train_bundle(labels, agent="inbox_triage", as_of=AS_OF, model_type="forest")
    with pytest.raises(TrainingError, match="no feature"):
        train_bundle(labels[["agent", "example_id", "source", "label", "labeled_at"]], agent="inbox_triage", as_of=AS_OF)


def test_tree_model(labels):
    tree = train_bundle(labels, agent="inbox_triage", as_of=AS_OF, model_type="tree", seed=3)
    assert tree.model_type == "tree"
    importances = {k: v for k, v in tree.thresholds.items() if k.endswith("_importance")}
    assert set(importances) == {"risk_score_importance", "spf_dkim_importance", "noise_importance"}
    assert all(0 <= v <= 1 for v in importances.values()) and sum(importances.values()) == pytest.approx(1, abs=1e-5)
    assert importances["risk_score_importance"] > importances["noise_importance"]
    holdout = holdout_examples(tree)
    assert tree.accuracy > max(holdout["label"].mean(), 1 - holdout["label"].mean()) + 0.1


def test_missing_features_are_imputed(labels):
    frame = labels.iloc[:60].copy()
    frame.loc[frame.index[::3], "f_spf_dkim"] = np.nan
    bundle = train_bundle(frame, agent="inbox_triage", as_of=AS_OF)
    assert bundle.accuracy is not None
    assert accuracy_on(bundle, holdout_examples(bundle).drop(columns="f_spf_dkim")) is not None


def test_diff_measures_both_bundles_on_the_candidates_holdout(bundle):
    # The stable bundle learned a wrong truth (label driven by the noise feature only).
    stable = train_bundle(
        synthetic_labels(200, seed=9, weights=(0.0, 0.0, 3.0), start="2023-10-01"),
        agent="inbox_triage",
        as_of="2023-11-01",
        seed=3,
    )
    holdout = holdout_examples(bundle)
    stable_model = load_model(stable.model)
    columns = ["f_" + f for f in stable.features]
    predicted = stable_model.predict_proba(holdout[columns].to_numpy())[:, 1] >= stable.thresholds["decision_threshold"]
    stable_accuracy = float(np.mean(predicted == holdout["label"].to_numpy()))

    diff = diff_bundles(bundle, stable)
    assert diff["accuracy_delta"] == pytest.approx(bundle.accuracy - stable_accuracy, abs=1e-6)
    assert diff["accuracy_delta"] > 0.15
    assert diff["accuracy_delta"] != pytest.approx(bundle.accuracy - stable.accuracy, abs=1e-3)
    assert diff_bundles(stable, bundle, holdout)["accuracy_delta"] == -diff["accuracy_delta"]
    changes = {c["param"]: c for c in diff["changes"]}
    assert [c["param"] for c in diff["changes"]] == sorted(changes)
    noise = changes["noise_weight"]
    assert noise["delta"] == pytest.approx(noise["new"] - noise["old"], abs=1e-6)


def test_diff_lists_params_of_either_bundle_and_none_without_a_stable(bundle):
    other = TrainedBundle(
        "inbox_triage_x", "inbox_triage", "manual", None, None,
        {"decision_threshold": 0.4, "risk_score_threshold": 70.0}, (), None, (),
    )
    diff = diff_bundles(bundle, other)
    assert diff["accuracy_delta"] is None  # `other` has no model
    by = {c["param"]: c for c in diff["changes"]}
    assert by["risk_score_threshold"] == {"param": "risk_score_threshold", "old": 70.0, "new": None, "delta": None}
    assert by["risk_score_weight"]["old"] is None and by["risk_score_weight"]["delta"] is None
    dt = by["decision_threshold"]
    assert dt["delta"] == round(bundle.thresholds["decision_threshold"] - 0.4, 6)
    first = diff_bundles(bundle, None)
    assert first["accuracy_delta"] is None and all(c["old"] is None for c in first["changes"])


def test_record_round_trips_through_json(bundle):
    record = json.loads(json.dumps(bundle.to_record()))
    assert TrainedBundle.from_record(record) == bundle
