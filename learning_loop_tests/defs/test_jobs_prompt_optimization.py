"""Prompt optimization (SPEC §13) end to end against a local chat-completions server, on both backends."""

import json
from datetime import datetime, timedelta

import pandas as pd

from learning_loop.defs.jobs.prompt_optimization import prompt_optimization_runs
from learning_loop.orchestration.llm import LLMResource
from learning_loop.stores import training_runs
from learning_loop_tests.defs.chat_server import ChatServer
from learning_loop_tests.defs.jobs_helpers import job_resources, materialize

AS_OF = datetime(2026, 3, 2, 2, 0)


def seed(wh, home, decisions=60, examples=12, prompt="Answer the question."):
    (home / "agents").mkdir(parents=True, exist_ok=True)
    if prompt is not None:
        (home / "agents" / "triage.yaml").write_text(f"system_prompt: {prompt!r}\n")
    dec = [{"agent": a, "decision_id": f"{a}{i}", "bundle_id": "b", "decided_at": AS_OF - timedelta(hours=i + 1),
            "quality": 1.0, "latency_ms": 1.0} for a, n in (("triage", decisions), ("other", 10)) for i in range(n)]
    dec.append({"agent": "triage", "decision_id": "old", "bundle_id": "b", "decided_at": AS_OF - timedelta(days=31),
                "quality": 1.0, "latency_ms": 1.0})
    labels = [{"agent": "triage", "example_id": f"e{i:02d}", "source": "approvals", "label": 1,
               "labeled_at": AS_OF - timedelta(days=20 - i), "features": "{}", "input_text": f"word {i}",
               "expected_output": f"WORD {i}!"} for i in range(examples)]
    with wh.transaction() as tx:
        tx.insert_df("decisions", pd.DataFrame(dec))
        tx.insert_df("labels", pd.DataFrame(labels))


def fake_model(messages):
    system, user = messages[0]["content"], messages[-1]["content"]
    if system == "You are an expert prompt engineer.":
        return "Role: assistant. Task: answer." if "sections" in user else "Answer the question precisely."
    return user.upper() if "Examples:" in system else "unsure"


def runs(wh):
    return training_runs.recent(wh, kind="prompt_optimization")


def test_pending_review_run_with_scores(warehouse, warehouse_url, tmp_path):
    home = tmp_path / "home"
    seed(warehouse, home)
    with ChatServer(fake_model) as server:
        llm = LLMResource(base_url=server.base_url, model="local", timeout_s=5, max_retries=0)
        materialize(prompt_optimization_runs, job_resources(warehouse_url, home, llm), AS_OF.isoformat())
    (row,) = runs(warehouse)
    assert (row["agent"], row["status"]) == ("triage", "pending_review")
    d = row["details"]
    assert d["best_variant"] == "few_shot" and d["best_beats_current"] is True
    assert d["scores"]["current"]["token_f1"] == 0.0 and d["scores"]["few_shot"]["exact_match"] == 1.0
    assert d["scores"]["few_shot"]["n"] == 4 and d["held_out_example_ids"] == ["e08", "e09", "e10", "e11"]
    assert set(d["prompts"]) == {"current", "clarified", "few_shot", "restructured", "combined"}
    assert d["model_generated"] == ["clarified", "restructured", "combined"]
    # 3 generated variants + 5 prompts x 4 held-out examples, 10 tokens each
    assert d["usage"] == {"calls": 23, "prompt_tokens": 161, "completion_tokens": 69, "total_tokens": 230}
    assert len(server.requests) == 23
    assert d["vs_current"]["few_shot"]["f1_delta"] == 1.0


def test_no_model_is_skipped_and_a_failing_model_is_failed(warehouse, warehouse_url, tmp_path):
    home = tmp_path / "home"
    seed(warehouse, home)
    materialize(prompt_optimization_runs, job_resources(warehouse_url, home), AS_OF.isoformat())
    (row,) = runs(warehouse)
    assert (row["agent"], row["status"]) == ("triage", "skipped")
    assert "LEARNING_LOOP_LLM_MODEL" in row["reason"]
    with ChatServer(fake_model) as server:
        server.script = [("status", 500)]
        llm = LLMResource(base_url=server.base_url, model="local", timeout_s=5, max_retries=0)
        materialize(prompt_optimization_runs, job_resources(warehouse_url, home, llm), AS_OF.isoformat())
    failed = [r for r in runs(warehouse) if r["status"] == "failed"]
    assert len(failed) == 1 and "InternalServerError" in failed[0]["reason"]
    assert failed[0]["details"]["usage"]["calls"] == 0


def test_no_eligible_agent(tmp_path):
    from learning_loop.warehouse.backend import open_warehouse

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    wh.ensure_schema()
    home = tmp_path / "home"
    seed(wh, home, decisions=49, examples=9, prompt=None)
    materialize(prompt_optimization_runs, job_resources(url, home), AS_OF.isoformat())
    (row,) = runs(wh)
    assert row["agent"] is None and row["status"] == "skipped"
    assert "triage: 49 decisions in 30 days (< 50); no system_prompt configured; 9 approved examples (< 10)" in row["reason"]
    assert "other: 10 decisions" in row["reason"]
    assert json.dumps(row["details"])  # JSON-ready
