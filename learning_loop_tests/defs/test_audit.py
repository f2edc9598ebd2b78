"""The audit log is append-only: rows written by a full flow never change, and no code updates or deletes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import learning_loop
from learning_loop.stores import audit
from learning_loop_tests.bundle_helpers import AGENT, BOB, action, failure_message, insert_labels, label_rows, run, train


def _ok(result):
    assert result.success, failure_message(result)
    return result


def _snapshot(wh):
    frame = wh.query_df('SELECT "at", agent, action, actor, ran_as, reason, details, run_id FROM audit_log')
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_earlier_audit_rows_never_change(runtime, warehouse):
    insert_labels(warehouse, label_rows(n=120))
    bundle_id = _ok(train("2024-01-06T00:00:00Z")).output_for_node("train_bundle_op")["bundle_id"]
    approval_id = _ok(action("propose", agent=AGENT, bundle_id=bundle_id, actor="admin",
                             as_of="2024-01-06T01:00:00Z")).output_for_node("approval_action_op")["approval_id"]
    _ok(action("approve", approval_id=approval_id, actor="ops_lead", rationale="ok", as_of="2024-01-06T02:00:00Z", ran_as=BOB))
    _ok(action("apply", approval_id=approval_id, canary_percent=100, as_of="2024-01-06T03:00:00Z", ran_as=BOB))
    state = {"actor": "ops", "reason": "check"}
    _ok(run("set_learning_state", "set_learning_state_op", {**state, "paused": True, "as_of": "2024-01-06T04:00:00Z"}))
    _ok(run("set_learning_state", "set_learning_state_op", {**state, "paused": False, "as_of": "2024-01-06T05:00:00Z"}))
    first = _snapshot(warehouse)
    assert sorted(r["action"] for r in first) == sorted(
        ["bundle_created", "proposed", "approved", "applied", "force_promoted", "paused", "resumed"])

    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.55}}
    uploaded = _ok(run("upload_bundle", "upload_bundle_op", {"document": json.dumps(doc), "as_of": "2024-01-07T00:00:00Z"}))
    manual = uploaded.output_for_node("upload_bundle_op")["bundle_id"]
    second = _ok(action("propose", agent=AGENT, bundle_id=manual, actor="admin",
                        as_of="2024-01-07T01:00:00Z")).output_for_node("approval_action_op")["approval_id"]
    _ok(action("reject", approval_id=second, actor="ops_lead", rationale="no", as_of="2024-01-07T02:00:00Z", ran_as=BOB))
    assert not action("approve", approval_id=second, actor="x", rationale="y", as_of="2024-01-07T03:00:00Z", ran_as=BOB).success
    _ok(run("set_learning_state", "set_learning_state_op", {**state, "paused": True, "as_of": "2024-01-07T04:00:00Z"}))

    later = _snapshot(warehouse)
    assert len(later) == len(first) + 4
    for row in first:
        assert row in later  # unchanged, field for field
    assert [e["action"] for e in audit.entries(warehouse, hours=23, as_of=_at("2024-01-07T05:00:00"))] == [
        "paused", "rejected", "proposed", "bundle_uploaded"]


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_no_code_updates_or_deletes_audit_rows():
    root = Path(learning_loop.__file__).parent
    pattern = re.compile(r"(UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log|TRUNCATE\s+(TABLE\s+)?audit_log)", re.IGNORECASE)
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.suffix in (".py", ".sql") and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"insert_df\(\s*[\"']audit_log[\"']", path.read_text(encoding="utf-8"))
    ]
    assert writers == ["stores/audit.py"]  # the only writer
