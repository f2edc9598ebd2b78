"""`learning-loop route`, `canaries …` and `weights` (SPEC §11–12): every transition and refusal
through the command line, the audit trail of a full rollout and of an automatic rollback."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from learning_loop import cli
from learning_loop.stores import audit
from learning_loop.stores import judges as judge_store
from learning_loop_tests.defs.test_canaries import AGENT, DEPLOYED, audit_rows, decision_rows, deploy, insert_decisions


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def at(hours: float) -> str:
    return (DEPLOYED + timedelta(hours=hours)).isoformat()


def state(wh) -> tuple:
    """Everything a refused command must leave as it was."""
    rows = wh.query_df("SELECT * FROM canaries ORDER BY agent").astype(str).to_dict("records")
    return rows, wh.scalar("SELECT count(*) FROM audit_log"), wh.scalar("SELECT count(*) FROM canary_checks")


def test_route_matches_the_hand_computed_hash(runtime, warehouse, capsys):
    code, out, _ = run_cli(capsys, "route", "--agent", AGENT, "--key", "k", "--json")
    assert code == 0 and json.loads(out) == {"arm": "stable", "bundle_id": None}
    deploy(warehouse, percent=50)
    seen = set()
    for i in range(12):
        key = f"req-{i}"
        bucket = int(hashlib.sha256(f"{AGENT}:{key}".encode()).hexdigest()[:8], 16) % 100
        expected = {"arm": "canary", "bundle_id": "b2"} if bucket < 50 else {"arm": "stable", "bundle_id": "b1"}
        code, out, _ = run_cli(capsys, "route", "--agent", AGENT, "--key", key, "--json")
        assert code == 0 and json.loads(out) == expected
        seen.add(expected["arm"])
    assert seen == {"canary", "stable"}
    assert "→ b" in run_cli(capsys, "route", "--agent", AGENT, "--key", "req-0")[1]


def test_full_rollout_10_50_100_and_refusals(runtime, warehouse, capsys):
    deploy(warehouse)
    code, out, _ = run_cli(capsys, "canaries", "active", "--as-of", at(25), "--json")
    [entry] = json.loads(out)
    assert code == 0 and (entry["agent"], entry["bundle_id"], entry["canary_percent"]) == (AGENT, "b2", 10)
    assert entry["hours_running"] == pytest.approx(25.0) and entry["stalled"] is False

    refusals = [
        (("promote", AGENT, "--target-percent", "70"), "must be one of 50|100"),
        (("promote", AGENT, "--target-percent", "50", "--as-of", at(-2)), "before agent inbox_triage's last"),
        (("promote", "post_gate", "--target-percent", "50"), "no active canary to promote"),
        (("rollback", "Bad-Agent"), "agent must match"),
        (("performance", "post_gate"), "no active canary"),
        (("check", "--agent", "post_gate"), "no active canary"),
        (("check", "--as-of", at(-2)), "before agent inbox_triage's last deployment change"),
    ]
    before = state(warehouse)
    for argv, message in refusals:
        code, out, err = run_cli(capsys, "canaries", *argv)
        assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1, argv
    assert state(warehouse) == before

    code, out, _ = run_cli(capsys, "canaries", "promote", AGENT, "--target-percent", "50", "--actor", "lead",
                           "--as-of", at(26), "--json")
    payload = json.loads(out)
    assert code == 0 and (payload["status"], payload["canary_percent"], payload["canary_bundle_id"]) == ("promoted", 50, "b2")
    before = state(warehouse)
    code, _, err = run_cli(capsys, "canaries", "promote", AGENT, "--target-percent", "50", "--as-of", at(27))
    assert code == 2 and "promotion only goes up" in err and state(warehouse) == before  # not upward
    code, out, _ = run_cli(capsys, "canaries", "promote", AGENT, "--target-percent", "100", "--actor", "lead",
                           "--as-of", at(50))
    assert code == 0 and "now the stable bundle" in out
    code, out, _ = run_cli(capsys, "canaries", "active", "--json")
    assert json.loads(out) == []
    before = state(warehouse)
    code, _, err = run_cli(capsys, "canaries", "rollback", AGENT)
    assert code == 2 and "no active canary to roll back" in err and state(warehouse) == before

    trail = audit_rows(warehouse)
    assert [(r["action"], r.get("from_percent"), r.get("to_percent")) for r in trail] == [
        ("force_promoted", None, None), ("applied", None, None), ("promoted", 10, 50), ("promoted", 50, 100),
    ]
    assert [r["actor"] for r in trail[2:]] == ["lead", "lead"]
    assert {r["ran_as"] for r in trail[2:]} == {audit.os_identity()}
    assert trail[3]["previous_stable_bundle_id"] == "b1"
    code, out, _ = run_cli(capsys, "route", "--agent", AGENT, "--key", "any", "--json")
    assert json.loads(out) == {"arm": "stable", "bundle_id": "b2"}


def test_manual_rollback(runtime, warehouse, capsys):
    deploy(warehouse)
    code, out, _ = run_cli(capsys, "canaries", "rollback", AGENT, "--reason", "users complain", "--actor", "oncall",
                           "--as-of", at(3), "--json")
    payload = json.loads(out)
    assert code == 0 and (payload["status"], payload["canary_percent"]) == ("rolled_back", 0)
    row = audit_rows(warehouse, "rolled_back")[-1]
    assert (row["actor"], row["reason"], row["bundle_id"], row["from_percent"]) == ("oncall", "users complain", "b2", 10)
    code, out, _ = run_cli(capsys, "route", "--agent", AGENT, "--key", "x", "--json")
    assert json.loads(out)["bundle_id"] == "b1"


def test_check_rolls_back_and_the_trail_says_so(runtime, warehouse, capsys):
    deploy(warehouse)
    deploy(warehouse, agent="post_gate", percent=10)
    insert_decisions(warehouse, decision_rows(100, 900, q_canary=0.6))
    insert_decisions(warehouse, decision_rows(20, 180, agent="post_gate", prefix="p"))
    code, out, _ = run_cli(capsys, "canaries", "performance", AGENT, "--as-of", at(48), "--json")
    assert code == 0 and json.loads(out)["recommendation"] == "rollback"
    # views with --as-of see only decisions made before it
    code, out, _ = run_cli(capsys, "canaries", "performance", AGENT, "--as-of", at(1), "--json")
    assert json.loads(out)["performance"]["n_canary"] + json.loads(out)["performance"]["n_stable"] == 59

    code, out, _ = run_cli(capsys, "canaries", "check", "--as-of", at(48), "--json")
    entries = json.loads(out)
    assert code == 0 and [(e["agent"], e["action"], e["reason"]) for e in entries] == [
        (AGENT, "rollback", "quality_regression"), ("post_gate", "refused", "insufficient_data"),
    ]
    assert set(entries[0]) >= {"agent", "action", "reason", "performance"}
    assert entries[0]["performance"]["quality_delta"] < -0.05
    trail = audit_rows(warehouse)
    mine = [(r["action"], r["actor"], r["reason"]) for r in trail if r["agent"] == AGENT]
    assert mine[:2] == [("force_promoted", "ops", None), ("applied", "ops", None)]
    assert sorted(mine[2:]) == [("guard_check", "guard", "quality_regression"),  # same moment: the look's as_of
                                ("rolled_back", "guard", "quality_regression")]
    rolled = audit_rows(warehouse, "rolled_back")[0]
    assert rolled["quality_delta"] == pytest.approx(entries[0]["performance"]["quality_delta"])
    assert rolled["ran_as"] == audit.os_identity()
    code, out, _ = run_cli(capsys, "canaries", "active", "--as-of", at(49))
    assert code == 0 and "post_gate" in out and "monitor (insufficient_data)" in out and AGENT not in out


def test_weights_command(runtime, warehouse, capsys):
    code, out, _ = run_cli(capsys, "weights", "--json")
    assert code == 0 and json.loads(out) == {}
    assert "no judge weights yet" in run_cli(capsys, "weights")[1]
    frame = pd.DataFrame({"agent": [AGENT, AGENT, "insights_writer"], "judge": ["gpt-4", "claude-3-opus", "gpt-4"],
                          "weight": [0.82, 0.25, 0.85], "n_gold": [100, 100, 80], "auc": [0.95, 0.6, 0.96],
                          "raw_agreement": [0.9, 0.2, 0.92], "reason": "ok"})
    with warehouse.transaction() as tx:
        judge_store.write(tx, date(2024, 1, 10), frame, window_days=30, computed_at=datetime(2024, 1, 11, 4, 30))
    code, out, _ = run_cli(capsys, "weights", "--json")
    assert json.loads(out) == {AGENT: {"claude-3-opus": 0.25, "gpt-4": 0.82}, "insights_writer": {"gpt-4": 0.85}}
    code, out, _ = run_cli(capsys, "weights", "--as-of", "2024-01-10T12:00:00", "--json")
    assert json.loads(out) == {}
    text = run_cli(capsys, "weights")[1]
    assert "2024-01-10" in text and "LOW" in text
