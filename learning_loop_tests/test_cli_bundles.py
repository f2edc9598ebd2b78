"""`learning-loop bundles|approvals|logs|pause|resume` end to end on DuckDB: JSON shapes, rules, bad input."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from learning_loop import cli
from learning_loop.domain.canaries import rollback
from learning_loop.stores import canaries as canary_store
from learning_loop_tests.bundle_helpers import AGENT, counts, insert_labels, label_rows

SPEC_KEYS = {"bundle_id", "agent", "model_type", "training_count", "accuracy", "thresholds"}


@pytest.fixture
def warehouse_url(tmp_path) -> str:  # CLI tests: DuckDB only
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def labeled(runtime, warehouse):
    insert_labels(warehouse, label_rows(n=150))
    insert_labels(warehouse, label_rows("post_gate", n=10, prefix="pg"))
    return warehouse


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys, *argv: str):
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def refused(capsys, wh, *argv: str, match: str) -> str:
    """Exit 2, one line naming the problem, and no table changed."""
    before = counts(wh)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert counts(wh) == before
    return err


def test_create_refusals(labeled, capsys):
    err = refused(capsys, labeled, "bundles", "create", "--agent", "post_gate", "--as-of", "2024-01-10T00:00:00Z",
                  match="post_gate has 10 labeled examples, fewer than --min-examples 50")
    assert "10" in err and "50" in err
    refused(capsys, labeled, "bundles", "create", "--agent", AGENT, "--min-examples", "500",
            match="fewer than --min-examples 500")
    refused(capsys, labeled, "bundles", "create", "--agent", AGENT, "--model-type", "svm", match="logistic or tree")
    refused(capsys, labeled, "bundles", "create", "--agent", AGENT, "--as-of", "yesterday", match="ISO-8601")
    refused(capsys, labeled, "bundles", "show", "nope", match="unknown bundle 'nope'")
    refused(capsys, labeled, "bundles", "active", "--agent", "nobody", match="unknown agent 'nobody'")


def test_full_approval_flow(labeled, capsys, monkeypatch, tmp_path):
    created = ok_json(capsys, "bundles", "create", "--agent", AGENT, "--as-of", "2024-01-04T00:00:00Z")
    assert set(created) == SPEC_KEYS and created["bundle_id"] == "inbox_triage_20240104_000000"
    assert created["training_count"] == 72 and created["model_type"] == "logistic"
    first = created["bundle_id"]
    shown = ok_json(capsys, "bundles", "show", first)
    assert shown["thresholds"] == created["thresholds"] and shown["source"] == "trained"
    code, text, _ = run_cli(capsys, "bundles", "--json", "show", first)  # --json before the action works too
    assert code == 0 and json.loads(text)["bundle_id"] == first
    code, text, _ = run_cli(capsys, "bundles", "show", first)
    assert code == 0 and "decision_threshold" in text and "72 examples" in text
    approval = ok_json(capsys, "approvals", "propose", "--agent", AGENT, "--bundle", first, "--proposer", "admin",
                       "--as-of", "2024-01-04T01:00:00Z")
    assert set(approval) == {"approval_id"}
    approval_id = approval["approval_id"]
    (pending,) = ok_json(capsys, "approvals", "pending")
    assert pending["id"] == approval_id and pending["requested_by"] == "admin" and pending["status"] == "pending"
    assert {"agent", "bundle_id", "diff", "created_at", "recommendation", "training_count"} <= set(pending)

    # one machine, one OS identity: self-approval is refused unless the install allows it
    refused(capsys, labeled, "approvals", "approve", approval_id, "--approver", "ops_lead", "--rationale", "ok",
            "--as-of", "2024-01-04T02:00:00Z", match="both ran as")
    refused(capsys, labeled, "approvals", "approve", approval_id, "--approver", "ADMIN", "--rationale", "ok",
            match="may not be the proposer")
    refused(capsys, labeled, "approvals", "apply", approval_id, "--canary-percent", "10",
            match="only an approved approval can be applied")
    monkeypatch.setenv("LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL", "1")
    refused(capsys, labeled, "approvals", "approve", approval_id, "--approver", "ops_lead", "--rationale", " ",
            match="rationale is required")
    code, out, err = run_cli(capsys, "approvals", "approve", approval_id, "--approver", "ops_lead", "--rationale",
                             "first bundle", "--as-of", "2024-01-04T02:00:00Z", "--json")
    assert code == 0 and json.loads(out)["status"] == "approved" and "same OS identity" in err
    refused(capsys, labeled, "approvals", "reject", approval_id, "--rejector", "x", "--rationale", "late",
            match="already approved by ops_lead")
    refused(capsys, labeled, "approvals", "apply", approval_id, "--canary-percent", "25", match="10, 50 or 100")
    refused(capsys, labeled, "approvals", "apply", approval_id, "--canary-percent", "10", "--as-of", "2024-01-04T03:00:00Z",
            match="apply its first bundle with canary percent 100")
    code, out, err = run_cli(capsys, "approvals", "apply", approval_id, "--canary-percent", "100",
                             "--as-of", "2024-01-04T03:00:00Z", "--json")
    assert code == 0 and json.loads(out)["status"] == "force_promoted" and "warning: forced promotion" in err
    assert ok_json(capsys, "bundles", "active", "--agent", AGENT) == {
        "agent": AGENT, "stable_bundle_id": first, "canary_bundle_id": None, "canary_percent": 0}

    second = ok_json(capsys, "bundles", "create", "--agent", AGENT, "--as-of", "2024-01-10T00:00:00Z")["bundle_id"]
    diff = ok_json(capsys, "bundles", "diff", second)
    assert set(diff) == {"changes", "accuracy_delta"} and isinstance(diff["accuracy_delta"], float)
    assert {c["param"] for c in diff["changes"]} == {"decision_threshold", "risk_score_weight", "spf_dkim_weight"}
    assert all(set(c) == {"param", "old", "new", "delta"} for c in diff["changes"])
    refused(capsys, labeled, "approvals", "propose", "--agent", AGENT, "--bundle", "nope", "--proposer", "admin",
            match="unknown bundle 'nope'")
    second_id = ok_json(capsys, "approvals", "propose", "--agent", AGENT, "--bundle", second, "--proposer", "admin",
                        "--as-of", "2024-01-10T01:00:00Z")["approval_id"]
    shown = ok_json(capsys, "approvals", "show", second_id)
    assert shown["diff"] == diff and shown["training_count"] == 150
    ok_json(capsys, "approvals", "approve", second_id, "--approver", "ops_lead", "--rationale", "better",
            "--as-of", "2024-01-10T02:00:00Z")
    applied = ok_json(capsys, "approvals", "apply", second_id, "--canary-percent", "10", "--as-of", "2024-01-10T03:00:00Z")
    assert applied["status"] == "deployed" and applied["deployment"]["canary_bundle_id"] == second
    refused(capsys, labeled, "approvals", "show", "approval-missing", match="unknown approval 'approval-missing'")

    recent = ok_json(capsys, "approvals", "recent", "--hours", "48", "--as-of", "2024-01-10T12:00:00Z")
    assert [a["approval_id"] for a in recent] == [second_id]

    with labeled.transaction() as tx:  # the canaries helper's rollback, straight through the store
        canary_store.change(tx, AGENT, lambda dep: rollback(dep, datetime(2024, 1, 10, 5)), at=datetime(2024, 1, 10, 5),
                            actor="guard", ran_as="schedule:guard", reason="quality_regression",
                            details={"quality_delta": -0.08})
    (entry,) = ok_json(capsys, "logs", "--action", "rollback", "--hours", "24", "--as-of", "2024-01-10T06:00:00Z")
    assert entry["action"] == "rolled_back" and entry["reason"] == "quality_regression" and entry["quality_delta"] == -0.08
    entries = ok_json(capsys, "logs", "--agent", AGENT)
    assert entries[0]["action"] == "rolled_back" and entries[-1]["action"] == "bundle_created"
    assert all({"timestamp", "agent", "action", "actor", "reason"} <= set(e) for e in entries)
    assert [e["timestamp"] for e in entries] == sorted((e["timestamp"] for e in entries), reverse=True)
    code, text, _ = run_cli(capsys, "logs", "--action", "force_promoted")
    assert code == 0 and "force_promoted" in text and "ops_lead" in text


def test_upload(labeled, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused(capsys, labeled, "bundles", "upload", str(bad), match="not valid JSON")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"agent": "nobody", "thresholds": {"decision_threshold": 0.5}}))
    refused(capsys, labeled, "bundles", "upload", str(unknown), match="unknown agent 'nobody'")
    extreme = tmp_path / "extreme.json"
    extreme.write_text(json.dumps({"agent": AGENT, "thresholds": {"risk_score_threshold": 95.0}}))
    refused(capsys, labeled, "bundles", "upload", str(extreme), match="outside [30, 90]")
    good = tmp_path / "bundle.json"
    good.write_text(json.dumps({"agent": AGENT, "thresholds": {"risk_score_threshold": 68.0, "spf_dkim_weight": 1.4}}))
    out = ok_json(capsys, "bundles", "upload", str(good), "--as-of", "2024-01-05T00:00:00Z")
    assert out["bundle_id"] == "inbox_triage_20240105_000000_manual" and out["source"] == "manual"
    assert ok_json(capsys, "logs", "--action", "bundle_uploaded")[0]["bundle_id"] == out["bundle_id"]


def test_pause_and_resume(labeled, capsys):
    state = ok_json(capsys, "pause", "--reason", "Investigating data quality issues", "--actor", "ops",
                    "--as-of", "2024-01-10T09:00:00Z")
    assert state == {"paused": True, "reason": "Investigating data quality issues", "actor": "ops",
                     "at": "2024-01-10T09:00:00Z"}
    refused(capsys, labeled, "pause", "--reason", "again", match="already paused")
    refused(capsys, labeled, "resume", "--as-of", "2024-01-10T08:00:00Z", match="before the last pause/resume")
    code, out, _ = run_cli(capsys, "resume", "--as-of", "2024-01-10T10:00:00Z")
    assert code == 0 and out.startswith("learning resumed by ")
    refused(capsys, labeled, "resume", match="not paused")
    refused(capsys, labeled, "pause", "--reason", "  ", match="non-empty --reason")
    assert [e["action"] for e in ok_json(capsys, "logs")] == ["resumed", "paused"]
