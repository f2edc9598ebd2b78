"""Prompt bundles: a real prompt_optimization run → `prompt_bundle` → propose → approve → apply.

Store/op tests on DuckDB and PostgreSQL; the CLI test on DuckDB. The training runs come from the real
`prompt_optimization` asset against the local chat-completions server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from learning_loop import cli
from learning_loop.defs.jobs.prompt_optimization import prompt_optimization_runs
from learning_loop.orchestration.llm import LLMResource
from learning_loop.stores import approvals as approval_store
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores import training_runs
from learning_loop.views import bundles as views
from learning_loop_tests.bundle_helpers import ALICE, BOB, action, counts, failure_message, run
from learning_loop_tests.defs.chat_server import ChatServer
from learning_loop_tests.defs.jobs_helpers import job_resources, materialize

AGENT = "triage"
AS_OF = datetime(2026, 3, 2, 2, 0)
PROMPT = "Answer the question."


def seed(wh, home) -> None:
    """60 decisions in 30 days, 12 approved examples (4 held out), a configured prompt."""
    (home / "agents").mkdir(parents=True, exist_ok=True)
    (home / "agents" / f"{AGENT}.yaml").write_text(f"system_prompt: {PROMPT!r}\n")
    dec = [{"agent": AGENT, "decision_id": f"d{i}", "bundle_id": "b", "decided_at": AS_OF - timedelta(hours=i + 1),
            "quality": 1.0, "latency_ms": 1.0} for i in range(60)]
    labels = [{"agent": AGENT, "example_id": f"e{i:02d}", "source": "approvals", "label": 1,
               "labeled_at": AS_OF - timedelta(days=20 - i), "features": "{}", "input_text": f"word {i}",
               "expected_output": f"WORD {i}!"} for i in range(12)]
    with wh.transaction() as tx:
        tx.insert_df("decisions", pd.DataFrame(dec))
        tx.insert_df("labels", pd.DataFrame(labels))


def fake_model(messages):
    """current: the answer plus a word (token-F1 0.8); clarified: half the answer (0.667);
    few_shot/combined: the exact answer (1.0); restructured: nothing right (0)."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if system == "You are an expert prompt engineer.":
        return "Role: assistant. Task: answer." if "sections" in user else "Answer the question precisely."
    if "Examples:" in system:
        return user.upper()
    if system == PROMPT:
        return f"{user} maybe"
    if system == "Answer the question precisely.":
        return user.split()[0]
    return "unsure"


def optimize(wh, url, home, *, llm: bool = True) -> dict:
    """Run the real prompt_optimization asset; the new training run row."""
    before = {r["run_id"] for r in training_runs.recent(wh, kind="prompt_optimization")}
    if llm:
        with ChatServer(fake_model) as server:
            resource = LLMResource(base_url=server.base_url, model="local", timeout_s=5, max_retries=0)
            materialize(prompt_optimization_runs, job_resources(url, home, resource), AS_OF.isoformat())
    else:
        materialize(prompt_optimization_runs, job_resources(url, home), AS_OF.isoformat())
    (row,) = [r for r in training_runs.recent(wh, kind="prompt_optimization") if r["run_id"] not in before]
    return row


def from_prompt(training_run_id: str, as_of: str, ran_as: str = ALICE, **config):
    return run("prompt_bundle", "prompt_bundle_op",
               {"training_run_id": training_run_id, "as_of": as_of, **config}, ran_as=ran_as)


def all_counts(wh) -> dict[str, int]:
    return {**counts(wh), "training_runs": int(wh.scalar("SELECT count(*) FROM training_runs"))}


def test_prompt_bundle_flow_and_refusals(runtime, warehouse, warehouse_url):
    wh = warehouse
    seed(wh, runtime)
    row = optimize(wh, warehouse_url, runtime)
    assert row["status"] == "pending_review"
    rid, d = row["run_id"], row["details"]
    scores = d["scores"]
    assert scores["current"]["token_f1"] == pytest.approx(0.8) and scores["clarified"]["token_f1"] == pytest.approx(2 / 3)

    # bad input: refused by the store's check (what the CLI calls first) and by the op (the run fails); nothing changes
    with wh.transaction() as tx:
        training_runs.record(tx, run_id="rag-run", kind="rag_training", agent=None, status="pending_review",
                             reason=None, created_at=AS_OF, details={})
    skipped = optimize(wh, warehouse_url, runtime, llm=False)
    before = all_counts(wh)
    at = datetime(2026, 3, 3)
    for config, message in [
        ({"training_run_id": "nope"}, "unknown training run 'nope'"),
        ({"training_run_id": rid, "variant": "shouty"}, "unknown variant 'shouty' of training run"),
        ({"training_run_id": rid, "variant": "current"}, "unknown variant 'current'"),
        ({"training_run_id": rid, "agent": "other"}, f"training run {rid} has no row for agent other"),
        ({"training_run_id": "rag-run"}, "training run rag-run is rag_training, not prompt_optimization"),
        ({"training_run_id": skipped["run_id"]}, "is skipped, not pending_review"),
    ]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            bundle_store.prepare_prompt_bundle(wh, at=at, **config)
    with pytest.raises(ValueError, match="is before training run"):
        bundle_store.prepare_prompt_bundle(wh, training_run_id=rid, at=datetime(2026, 3, 1))
    for training_run_id, config, message in [("nope", {}, "unknown training run 'nope'"),
                                             ("rag-run", {}, "is rag_training, not prompt_optimization"),
                                             (rid, {"variant": "shouty"}, "unknown variant 'shouty'")]:
        result = from_prompt(training_run_id, "2026-03-03T00:00:00Z", **config)
        assert not result.success and message in failure_message(result), failure_message(result)
    assert all_counts(wh) == before

    # the best variant (few_shot, token-F1 1.0) as a bundle
    result = from_prompt(rid, "2026-03-03T00:00:00Z")
    assert result.success, failure_message(result)
    out = result.output_for_node("prompt_bundle_op")
    bundle_id = out["bundle_id"]
    assert bundle_id == "triage_20260303_000000_prompt"
    assert (out["model_type"], out["source"], out["variant"], out["training_run_id"]) == (
        "prompt", "prompt_optimization", "few_shot", rid)
    # like a threshold bundle's: every example the run used (training part + held-out part)
    assert out["training_count"] == len(d["train_example_ids"]) + len(d["held_out_example_ids"]) == 12
    assert out["accuracy"] == round(scores["few_shot"]["token_f1"], 6) == 1.0
    assert out["system_prompt"] == d["prompts"]["few_shot"] and out["thresholds"] == {}
    shown = views.bundle_view(wh, bundle_id)
    assert shown["system_prompt"] == d["prompts"]["few_shot"] and shown["accuracy_metric"] == "token_f1"
    assert shown["current_scores"] == scores["current"] and shown["holdout_count"] == 4
    (created,) = audit.entries(wh, action="bundle_created")
    assert (created["kind"], created["training_run_id"], created["bundle_id"], created["ran_as"]) == (
        "prompt", rid, bundle_id, ALICE)

    # propose: the diff is the run's own comparison on the same held-out examples
    proposed = action("propose", agent=AGENT, bundle_id=bundle_id, actor="admin", as_of="2026-03-03T01:00:00Z")
    assert proposed.success, failure_message(proposed)
    approval = approval_store.load(wh, proposed.output_for_node("approval_action_op")["approval_id"])
    assert set(approval.diff) == {"changes", "accuracy_delta"}
    assert approval.diff["changes"] == [
        {"param": "system_prompt", "old": d["prompts"]["current"], "new": d["prompts"]["few_shot"], "delta": None}]
    delta = scores["few_shot"]["token_f1"] - scores["current"]["token_f1"]
    assert approval.diff["accuracy_delta"] == round(delta, 6) == pytest.approx(d["vs_current"]["few_shot"]["f1_delta"])
    assert approval.diff["accuracy_delta"] == pytest.approx(0.2)
    assert approval.training_count == 12 and approval.recommendation == "reject"  # < 50 examples: the rule is unchanged
    assert set(approval_store.to_json(approval)) == {"id", *approval.to_json_dict()}

    # approve (another identity) and apply: the agent's first bundle must go to 100
    assert action("approve", approval_id=approval.approval_id, actor="ops_lead", rationale="better prompt",
                  as_of="2026-03-03T02:00:00Z", ran_as=BOB).success
    before = all_counts(wh)
    result = action("apply", approval_id=approval.approval_id, canary_percent=10, as_of="2026-03-03T03:00:00Z")
    assert not result.success and "first bundle" in failure_message(result)
    assert all_counts(wh) == before
    result = action("apply", approval_id=approval.approval_id, canary_percent=100, as_of="2026-03-03T03:00:00Z")
    assert result.success, failure_message(result)
    assert views.active_view(wh, AGENT, runtime)["stable_bundle_id"] == bundle_id
    assert [e["action"] for e in reversed(audit.entries(wh, agent=AGENT))] == [
        "bundle_created", "proposed", "approved", "force_promoted", "applied"]

    # a hand-edited bundle under the stable prompt bundle: its diff says the prompt goes back to the configured one
    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.5}}
    uploaded = run("upload_bundle", "upload_bundle_op", {"document": json.dumps(doc), "as_of": "2026-03-03T04:00:00Z"})
    assert uploaded.success, failure_message(uploaded)
    edited = bundle_store.require(wh, uploaded.output_for_node("upload_bundle_op")["bundle_id"])
    assert bundle_store.diff(wh, edited)["changes"] == [
        {"param": "decision_threshold", "old": None, "new": 0.5, "delta": None},
        {"param": "system_prompt", "old": d["prompts"]["few_shot"], "new": None, "delta": None}]

    # the run measured its variants against the configured prompt, no longer the stable one: refused
    before = all_counts(wh)
    result = from_prompt(rid, "2026-03-04T00:00:00Z", variant="clarified")
    assert not result.success and "against another prompt than the stable prompt bundle" in failure_message(result)
    assert all_counts(wh) == before


def test_second_prompt_bundle_is_a_canary_and_keeps_the_thresholds(runtime, warehouse, warehouse_url):
    """Under a stable threshold bundle: the prompt bundle keeps its thresholds, goes to a 10 % canary,
    and a worse variant is recommended `reject`."""
    wh = warehouse
    seed(wh, runtime)
    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.4}}
    assert run("upload_bundle", "upload_bundle_op", {"document": json.dumps(doc), "as_of": "2026-03-01T00:00:00Z"}).success
    (manual,) = [b for b in wh.query_df("SELECT bundle_id FROM bundles")["bundle_id"]]
    approval_id = action("propose", agent=AGENT, bundle_id=manual, actor="admin",
                         as_of="2026-03-01T01:00:00Z").output_for_node("approval_action_op")["approval_id"]
    assert action("approve", approval_id=approval_id, actor="lead", rationale="ok", as_of="2026-03-01T02:00:00Z",
                  ran_as=BOB).success
    assert action("apply", approval_id=approval_id, canary_percent=100, as_of="2026-03-01T03:00:00Z").success

    row = optimize(wh, warehouse_url, runtime)
    out = from_prompt(row["run_id"], "2026-03-03T00:00:00Z", variant="clarified").output_for_node("prompt_bundle_op")
    assert out["thresholds"] == {"decision_threshold": 0.4} and out["base_bundle_id"] == manual
    assert out["accuracy"] == round(row["details"]["scores"]["clarified"]["token_f1"], 6)
    proposed = action("propose", agent=AGENT, bundle_id=out["bundle_id"], actor="admin", as_of="2026-03-03T01:00:00Z")
    approval = approval_store.load(wh, proposed.output_for_node("approval_action_op")["approval_id"])
    assert [c["param"] for c in approval.diff["changes"]] == ["system_prompt"]
    assert approval.diff["accuracy_delta"] == pytest.approx(2 / 3 - 0.8, abs=1e-6) and approval.recommendation == "reject"
    assert action("approve", approval_id=approval.approval_id, actor="lead", rationale="try it",
                  as_of="2026-03-03T02:00:00Z", ran_as=BOB).success
    applied = action("apply", approval_id=approval.approval_id, canary_percent=10, as_of="2026-03-03T03:00:00Z")
    assert applied.success, failure_message(applied)
    dep = applied.output_for_node("approval_action_op")["deployment"]
    assert (dep["stable_bundle_id"], dep["canary_bundle_id"], dep["canary_percent"]) == (manual, out["bundle_id"], 10)
    assert bundle_store.threshold_base(wh, AGENT).bundle_id == manual


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """The `runtime` fixture's environment on DuckDB only (CLI test)."""
    home = tmp_path / "runtime"
    home.mkdir()
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(home))
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_from_prompt_to_stable(cli_home, tmp_path, capsys, monkeypatch):
    from learning_loop.warehouse.backend import open_warehouse

    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.ensure_schema()
    seed(wh, cli_home)
    with ChatServer(fake_model) as server:  # the real prompt_optimization job, launched like an operator does
        monkeypatch.setenv("LEARNING_LOOP_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LEARNING_LOOP_LLM_MODEL", "local")
        code, out, err = run_cli(capsys, "jobs", "run", "prompt_optimization", "--as-of", AS_OF.isoformat() + "Z", "--json")
        assert code == 0, err
    rid = json.loads(out)["run_id"]
    (row,) = training_runs.recent(wh, kind="prompt_optimization")
    assert row["run_id"] == rid and row["status"] == "pending_review"

    def refused(*argv: str, match: str) -> None:
        before = all_counts(wh)
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and match in err, (out, err)
        assert all_counts(wh) == before

    refused("bundles", "from-prompt", "nope", match="unknown training run 'nope'")
    refused("bundles", "from-prompt", rid, "--variant", "loud", match="unknown variant 'loud'")
    refused("bundles", "from-prompt", rid, "--as-of", "yesterday", match="ISO-8601")

    code, out, err = run_cli(capsys, "bundles", "from-prompt", rid, "--as-of", "2026-03-03T00:00:00Z", "--json")
    assert code == 0, err
    created = json.loads(out)
    bundle_id = created["bundle_id"]
    assert created["variant"] == "few_shot" and created["accuracy"] == 1.0 and created["training_count"] == 12
    code, text, _ = run_cli(capsys, "bundles", "show", bundle_id)
    assert code == 0 and "few_shot" in text and row["details"]["prompts"]["few_shot"].splitlines()[0] in text
    code, out, _ = run_cli(capsys, "bundles", "diff", bundle_id, "--json")
    diff = json.loads(out)
    assert diff["accuracy_delta"] == round(1.0 - row["details"]["scores"]["current"]["token_f1"], 6)

    code, out, err = run_cli(capsys, "approvals", "propose", "--agent", AGENT, "--bundle", bundle_id, "--proposer",
                             "admin", "--as-of", "2026-03-03T01:00:00Z", "--json")
    assert code == 0, err
    approval_id = json.loads(out)["approval_id"]
    code, out, _ = run_cli(capsys, "approvals", "show", approval_id, "--json")
    shown = json.loads(out)
    assert shown["diff"] == diff and shown["training_count"] == 12
    assert shown["diff"]["changes"][0]["new"] == row["details"]["prompts"]["few_shot"]
    monkeypatch.setenv("LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL", "1")
    code, _, err = run_cli(capsys, "approvals", "approve", approval_id, "--approver", "ops_lead", "--rationale",
                           "clearly better", "--as-of", "2026-03-03T02:00:00Z")
    assert code == 0, err
    code, out, err = run_cli(capsys, "approvals", "apply", approval_id, "--canary-percent", "100",
                             "--as-of", "2026-03-03T03:00:00Z", "--json")
    assert code == 0 and json.loads(out)["status"] == "force_promoted", err
    code, out, _ = run_cli(capsys, "bundles", "active", "--agent", AGENT, "--json")
    assert json.loads(out)["stable_bundle_id"] == bundle_id
    code, out, _ = run_cli(capsys, "logs", "--agent", AGENT, "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert actions == ["applied", "force_promoted", "approved", "proposed", "bundle_created"]
    assert json.loads(out)[-1]["kind"] == "prompt" and json.loads(out)[-1]["training_run_id"] == rid
