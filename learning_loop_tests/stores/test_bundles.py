"""stores.bundles on both backends: train (row + audit in one transaction), upload validation, diff, counters."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from learning_loop.domain.active_learning.bundles import BundleUploadError
from learning_loop.domain.active_learning.training import InsufficientExamplesError, reproduce
from learning_loop.domain.canaries import apply_bundle
from learning_loop.stores import audit
from learning_loop.stores import bundles as store
from learning_loop.stores import canaries as canary_store
from learning_loop_tests.bundle_helpers import AGENT, counts, insert_labels, label_rows

AS_OF = datetime(2024, 1, 10)


def _train(wh, as_of=AS_OF, **kw):
    with wh.transaction() as tx:
        return store.train(tx, agent=AGENT, as_of=as_of, actor="ops", ran_as="ops@host", **kw)


def _make_stable(wh, bundle_id, at):
    with wh.transaction() as tx:
        canary_store.change(tx, AGENT, lambda dep: apply_bundle(dep, bundle_id, 100, at), at=at, actor="t", ran_as="t")


@pytest.fixture
def labeled(warehouse):
    insert_labels(warehouse, label_rows(n=150))  # hourly from 2024-01-01: 150 h ≈ 6.25 days
    return warehouse


def test_train_writes_bundle_and_audit_row(labeled):
    bundle = _train(labeled, min_examples=50)
    assert bundle.bundle_id == "inbox_triage_20240110_000000"
    assert bundle.training_count == 150 and 0.5 <= bundle.accuracy <= 1
    assert set(bundle.thresholds) == {"decision_threshold", "risk_score_weight", "spf_dkim_weight"}
    row = store.row(labeled, bundle.bundle_id)
    assert row["source"] == "trained" and row["created_by"] == "ops" and row["ran_as"] == "ops@host"
    assert row["thresholds"] == bundle.thresholds and row["created_at"] == "2024-01-10T00:00:00Z"
    loaded = store.load(labeled, bundle.bundle_id)
    assert loaded.thresholds == bundle.thresholds and loaded.holdout_ids == bundle.holdout_ids
    assert reproduce(loaded).thresholds == bundle.thresholds  # the record reproduces the bundle
    (entry,) = audit.entries(labeled)
    assert entry["action"] == "bundle_created" and entry["bundle_id"] == bundle.bundle_id
    assert entry["training_count"] == 150


def test_as_of_limits_the_examples(labeled):
    bundle = _train(labeled, as_of=datetime(2024, 1, 3, 12))  # 60 labels before it
    assert bundle.training_count == 60


def test_too_few_examples_names_both_numbers_and_writes_nothing(labeled):
    before = counts(labeled)
    with pytest.raises(InsufficientExamplesError, match=r"150 labeled examples, fewer than --min-examples 200"):
        store.check_train(labeled, agent=AGENT, as_of=AS_OF, min_examples=200)
    with pytest.raises(InsufficientExamplesError, match=r"\b150\b.*\b200\b"):
        _train(labeled, min_examples=200)
    with pytest.raises(InsufficientExamplesError, match=r"has 0 labeled examples"):
        store.check_train(labeled, agent="post_gate", as_of=AS_OF)
    assert counts(labeled) == before


def test_min_confidence_filters_labels(labeled):
    with labeled.transaction() as tx:
        tx.execute("UPDATE labels SET confidence = 50 WHERE example_id < 'ex0100'")
    assert store.example_count(labeled, AGENT, AS_OF, min_confidence=80) == 50
    with pytest.raises(InsufficientExamplesError, match="confidence >= 80"):
        store.check_train(labeled, agent=AGENT, as_of=AS_OF, min_examples=60, min_confidence=80)


def test_bundle_ids_are_never_reused(labeled):
    _train(labeled)
    with pytest.raises(store.DuplicateBundle, match="already exists"):
        store.check_train(labeled, agent=AGENT, as_of=AS_OF)
    with pytest.raises(store.DuplicateBundle):
        _train(labeled)
    assert counts(labeled)["bundles"] == 1 and counts(labeled)["audit_log"] == 1


def test_diff_against_stable_on_the_same_examples(labeled):
    first = _train(labeled, as_of=datetime(2024, 1, 4))
    assert store.diff(labeled, first)["accuracy_delta"] is None  # no stable bundle yet
    _make_stable(labeled, first.bundle_id, datetime(2024, 1, 4, 1))
    assert store.diff(labeled, first)["accuracy_delta"] == 0.0
    second = _train(labeled, as_of=AS_OF, model_type="tree")
    diff = store.diff(labeled, second)
    params = {c["param"]: c for c in diff["changes"]}
    assert params["risk_score_weight"]["new"] is None and params["risk_score_importance"]["old"] is None
    assert params["decision_threshold"]["delta"] == pytest.approx(
        second.thresholds["decision_threshold"] - first.thresholds["decision_threshold"], abs=1e-6
    )
    from learning_loop.domain.active_learning.training import accuracy_on, holdout_examples

    holdout = holdout_examples(second)
    assert diff["accuracy_delta"] == pytest.approx(accuracy_on(second, holdout) - accuracy_on(first, holdout), abs=1e-6)


def test_upload_builds_a_manual_bundle_on_the_stable_one(labeled, tmp_path):
    base = _train(labeled, as_of=datetime(2024, 1, 4))
    _make_stable(labeled, base.bundle_id, datetime(2024, 1, 4, 1))
    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.6}}
    with labeled.transaction() as tx:
        bundle = store.upload(tx, doc, home=tmp_path, at=datetime(2024, 1, 5), actor="ed", ran_as="ed@h")
    assert bundle.bundle_id == "inbox_triage_20240105_000000_manual" and bundle.source == "manual"
    assert bundle.base_bundle_id == base.bundle_id and bundle.thresholds["decision_threshold"] == 0.6
    assert bundle.thresholds["risk_score_weight"] == base.thresholds["risk_score_weight"]
    assert store.row(labeled, bundle.bundle_id)["source"] == "manual"
    assert audit.entries(labeled, action="bundle_uploaded")[0]["base_bundle_id"] == base.bundle_id


INVALID_UPLOADS = [
    ({"agent": "nobody", "thresholds": {"decision_threshold": 0.5}}, "unknown agent 'nobody'"),
    ({"agent": AGENT, "thresholds": {"made_up": 1.0}}, "unknown parameter"),
    ({"agent": AGENT, "thresholds": {"decision_threshold": 0.99}}, "out of bounds"),
    ({"agent": AGENT, "thresholds": {"decision_threshold": float("nan")}}, "finite number"),
    ({"agent": AGENT}, "missing key"),
    ([1, 2], "JSON object"),
]


def test_invalid_uploads_store_nothing(labeled, tmp_path):
    base = _train(labeled, as_of=datetime(2024, 1, 4))
    _make_stable(labeled, base.bundle_id, datetime(2024, 1, 4, 1))
    before = counts(labeled)
    for doc, message in INVALID_UPLOADS:
        with pytest.raises(BundleUploadError, match=message):
            with labeled.transaction() as tx:
                store.upload(tx, doc, home=tmp_path, at=datetime(2024, 1, 5), actor="ed", ran_as="ed@h")
    assert counts(labeled) == before


def test_upload_bounds_come_from_the_agent_file(labeled, tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / f"{AGENT}.yaml").write_text("bounds:\n  decision_threshold: [0.4, 0.6]\n")
    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.7}}  # inside the default bounds
    with pytest.raises(BundleUploadError, match=r"decision_threshold=0.7 outside \[0.4, 0.6\]"):
        store.prepare_upload(labeled, doc, home=tmp_path, at=datetime(2024, 1, 5))


def test_read_upload_file(tmp_path):
    path = tmp_path / "b.json"
    path.write_text("{not json")
    with pytest.raises(BundleUploadError, match="not valid JSON"):
        store.read_upload_file(path)
    with pytest.raises(BundleUploadError, match="not found"):
        store.read_upload_file(tmp_path / "missing.json")
    path.write_text(json.dumps({"agent": AGENT, "thresholds": {"x": 1}}))
    assert store.read_upload_file(path)["agent"] == AGENT


def test_new_label_counts_since_last_trained_bundle(labeled):
    assert store.last_trained_at(labeled, AGENT) is None
    assert store.new_label_count(labeled, AGENT, None, AS_OF) == 150
    _train(labeled, as_of=datetime(2024, 1, 4))  # 72 labels before it
    last = store.last_trained_at(labeled, AGENT, before=AS_OF)
    assert last == datetime(2024, 1, 4)
    assert store.new_label_count(labeled, AGENT, last, AS_OF) == 150 - 72
    assert store.last_trained_at(labeled, AGENT, before=datetime(2024, 1, 4)) is None
    assert store.agents_with_labels(labeled) == [AGENT]
