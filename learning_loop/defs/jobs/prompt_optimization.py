"""Prompt optimization (contract §10, weekly, Monday 02:00 UTC): the asset `prompt_optimization_runs`.

For each eligible agent (`domain.jobs.prompts`): the language model writes the
`clarified`, `restructured` and `combined` variants (few-shot is built from the
examples), then the current prompt and every variant answer the held-out
examples and are scored (exact match and token-F1 with intervals, and the
paired token-F1 difference to the current prompt). One `training_runs` row per
agent: `pending_review` with everything needed to reproduce it, `skipped` (no
model configured) or `failed` (the model failed after its retries). With no
eligible agent, one `skipped` row (agent empty) lists every agent's reason.
"""


from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd

from learning_loop.defs.jobs.common import GROUP, RETRY, AsOfConfig, as_of_schedule, asset_job
from learning_loop.domain.active_learning.agents import AgentConfigError
from learning_loop.domain.jobs import prompts as core
from learning_loop.domain.jobs.scoring import compare, score_outputs
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.llm import ChatClient, LLMResource, LLMUnavailable
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import agents as agent_store
from learning_loop.stores import training_runs
from learning_loop.stores.planning import parse_as_of
from learning_loop.warehouse.backend import Warehouse

KIND = "prompt_optimization"
ASSET = "prompt_optimization_runs"


def decision_counts(wh: Warehouse, as_of: datetime) -> dict[str, int]:
    start, end = core.decision_window(as_of)
    frame = wh.query_df("SELECT agent, COUNT(*) AS n FROM decisions WHERE decided_at >= :s AND decided_at < :e "
                        "GROUP BY agent", {"s": start.to_pydatetime(), "e": end.to_pydatetime()})
    return {str(a): int(n) for a, n in zip(frame["agent"], frame["n"])}


def agent_labels(wh: Warehouse, agent: str, as_of: datetime) -> pd.DataFrame:
    return wh.query_df(
        "SELECT agent, example_id, source, label, labeled_at, input_text, expected_output FROM labels "
        "WHERE agent = :a AND labeled_at < :e", {"a": agent, "e": core.decision_window(as_of)[1].to_pydatetime()})


def candidate_agents(wh: Warehouse, home: str) -> list[str]:
    frame = wh.query_df("SELECT DISTINCT agent FROM decisions UNION SELECT DISTINCT agent FROM labels")
    return sorted({str(a) for a in frame["agent"].dropna()} | agent_store.configured_agents(home))


def optimize(client: ChatClient, base: str, examples: pd.DataFrame) -> dict[str, Any]:
    """Generate the variants, answer the held-out examples with each prompt, score them."""
    train, held = core.split_holdout(examples)
    generated = {v: client.complete(core.generation_messages(v, base, train)) for v in core.MODEL_GENERATED}
    prompts = core.build_variants(base, generated, train)
    expected = held["expected_output"].astype(str).tolist()
    outputs = {
        name: [client.complete([{"role": "system", "content": text}, {"role": "user", "content": str(q)}])
               for q in held["input_text"]]
        for name, text in prompts.items()
    }
    scores = {name: score_outputs(out, expected).to_dict() for name, out in outputs.items()}
    comparisons = {name: compare(outputs[name], outputs[core.CURRENT], expected).to_dict()
                   for name in prompts if name != core.CURRENT}
    best = core.best_variant(scores)
    return {
        "best_variant": best,
        "best_beats_current": comparisons[best]["significantly_better"],
        "scores": scores,
        "vs_current": comparisons,
        "prompts": prompts,
        "model_generated": list(core.MODEL_GENERATED),
        "train_example_ids": train["example_id"].astype(str).tolist(),
        "held_out_example_ids": held["example_id"].astype(str).tolist(),
        "outputs": outputs,
        "metric": "exact match (normalised) with Wilson 95% interval; token-F1 with t 95% interval; "
                  "vs_current: paired token-F1 difference with t 95% interval",
    }


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    deps=["labels", "decisions"],
    kinds={"python", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    code_version=code_version_of(core, optimize),
    description="Weekly prompt optimization (contract §10): prompt variants scored on held-out examples, "
    "one training run per eligible agent for review.",
)
def prompt_optimization_runs(context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource,
                             runtime: RuntimeResource, llm: LLMResource) -> dg.MaterializeResult:
    as_of = parse_as_of(config.as_of)
    wh = warehouse.get()
    counts = decision_counts(wh, as_of)
    checked: list[core.Eligibility] = []
    work: list[tuple[str, str, pd.DataFrame]] = []
    for agent in candidate_agents(wh, runtime.home):
        try:
            prompt = agent_store.agent_config(runtime.home, agent).system_prompt
        except AgentConfigError as exc:
            prompt = None
            context.log.warning(str(exc))
        examples = core.approved_examples(agent_labels(wh, agent, as_of), agent, as_of)
        verdict = core.eligibility(agent, decisions_30d=counts.get(agent, 0), system_prompt=prompt,
                                   approved_examples=len(examples))
        checked.append(verdict)
        if verdict.eligible:
            work.append((agent, str(prompt), examples))
    run_id = context.run.run_id
    rows = []
    missing = llm.missing_reason()
    with wh.transaction() as tx:
        if not work:
            reason = "no eligible agent" + (": " + "; ".join(f"{e.agent}: {e.reason}" for e in checked) if checked else "")
            rows.append(training_runs.record(tx, run_id=run_id, kind=KIND, agent=None, status="skipped", reason=reason,
                                             created_at=as_of, details={"as_of": as_of.isoformat()}))
        elif missing:
            for agent, _, examples in work:
                rows.append(training_runs.record(tx, run_id=run_id, kind=KIND, agent=agent, status="skipped",
                                                 reason=missing, created_at=as_of,
                                                 details={"as_of": as_of.isoformat(), "examples": len(examples)}))
    if work and not missing:
        client = llm.client()
        for agent, prompt, examples in work:
            details: dict[str, Any] = {"as_of": as_of.isoformat(), "model": llm.model, "base_url": llm.base_url,
                                       "examples": len(examples)}
            before = client.usage.to_dict()
            try:
                details.update(optimize(client, prompt, examples))
                status, reason = "pending_review", f"best variant {details['best_variant']}"
            except (LLMUnavailable, ValueError) as exc:
                status, reason = "failed", str(exc)
            after = client.usage.to_dict()
            details["usage"] = {k: after[k] - before[k] for k in after}
            with wh.transaction() as tx:
                rows.append(training_runs.record(tx, run_id=run_id, kind=KIND, agent=agent, status=status,
                                                 reason=reason, created_at=as_of, details=details))
            context.log.info(f"{agent}: {status} ({reason})")
    statuses = pd.Series([r["status"] for r in rows])
    best = {r["agent"]: r["details"].get("best_variant") for r in rows if r["status"] == "pending_review"}
    return dg.MaterializeResult(metadata={
        "as_of": as_of.isoformat(),
        "agents_checked": float(len(checked)),
        "agents_eligible": float(len(work)),
        "pending_review": float((statuses == "pending_review").sum()),
        "skipped": float((statuses == "skipped").sum()),
        "failed": float((statuses == "failed").sum()),
        "eligibility": dg.MetadataValue.json({e.agent: e.reason for e in checked}),
        "best_variants": dg.MetadataValue.json(best),
        "reason": rows[0]["reason"] if len(rows) == 1 else f"{len(rows)} training runs",
    })


prompt_optimization_job = asset_job(KIND, ASSET, "Weekly prompt optimization (contract §10).")
prompt_optimization_schedule = as_of_schedule(
    KIND, prompt_optimization_job, ASSET, pausable=True,
    description="Monday 02:00 UTC: prompt optimization (runbook 002); skips while learning is paused.",
)
