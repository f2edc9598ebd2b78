"""The canary guard as a Dagster op job, its nightly schedule and its decisions sensor (contract §9.5).

`canary_guard` checks every active canary (or one agent's): it loads the
canary's decisions made before ``as_of``, calls the domain's
``canary_performance`` / ``guard_decision`` (the very function
``bench/bench_guard.py`` measures) and, per canary in ONE transaction, writes a
`canary_checks` row, an audit row `guard_check` and, when the guard rolls
back, the deployment change with its audit row `rolled_back` (actor `guard`,
reason `quality_regression` / `latency_regression`, the deltas in details).
With auto-promotion on for the agent (``auto_promote: true`` in
``$LEARNING_LOOP_HOME/agents/<agent>.yaml``, or the job's ``auto_promote``),
a canary recommended ``promote`` continuously for ``auto_promote_hold_hours``
at its current percent is promoted one step (10 → 50 → 100, audit `promoted`,
actor `guard`, reason `auto_promotion`).

The run materializes `canary_checks` (float metadata per agent for the UI's
plots) and, after a rollback or promotion, `canaries`; it evaluates the checks
`canary_not_stalled` (WARN: > 72 h at `monitor`, manual decision needed),
`canary_sample_ratio` (WARN: refused for a sample-ratio mismatch) and
`canary_regression` (ERROR: the guard rolled a canary back — the runbook's
critical alert). The same checks can be run alone from the UI; they then read
the newest `canary_checks` rows.

`canary_guard_nightly` (05:00 UTC) and `canary_guard_sensor` (new decisions of
an agent with an active canary) launch it; both skip with the pause reason
while active learning is paused. `learning-loop canaries check` runs the same
job at once.
"""


import json
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg

from learning_loop.defs.canaries.deployments import GROUP, deployment_metadata
from learning_loop.domain.canaries import (
    CanaryError,
    CanaryPerformance,
    Deployment,
    GuardConfig,
    auto_promotion_due,
    canary_performance,
    promote,
    rollback,
)
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, tick_time, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import audit
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import canary_checks as check_store
from learning_loop.stores.learning_state import pause_reason
from learning_loop.stores.planning import parse_as_of
from learning_loop.warehouse.backend import Transaction, Warehouse

GUARD_OP = "canary_guard_op"
GUARD_ACTOR = "guard"
AUTO_PROMOTION_REASON = "auto_promotion"
STALLED_CHECK = "canary_not_stalled"
SRM_CHECK = "canary_sample_ratio"
REGRESSION_CHECK = "canary_regression"
#: the next step of an automatic promotion
NEXT_PERCENT = {10: 50, 50: 100}

canary_checks_spec = dg.AssetSpec(
    "canary_checks",
    group_name=GROUP,
    deps=["decisions", "canaries"],
    kinds={warehouse_kind()},
    description="One row per active canary per guard look: deltas with their always-valid intervals, "
    "n per arm, guard action and reason, recommendation, hours running.",
)


class GuardJobConfig(dg.Config):
    """`agent`: only this agent's canary (empty = every active canary). `as_of`: ISO-8601 moment of the
    look (empty = now); only decisions made before it count. The rest override the guard's defaults
    (an agent's `guard:` settings in its yaml file override these)."""

    agent: str = ""
    as_of: str = ""
    max_quality_drop: float = 0.05
    max_latency_rise: float = 0.10
    level: float = 0.99
    min_decisions_per_arm: int = 50
    srm_alpha: float = 0.001
    stall_hours: float = 72.0
    auto_promote: bool = False
    auto_promote_hold_hours: float = 24.0

    def guard_config(self) -> GuardConfig:
        return GuardConfig(
            max_quality_drop=self.max_quality_drop,
            max_latency_rise=self.max_latency_rise,
            level=self.level,
            min_decisions_per_arm=self.min_decisions_per_arm,
            srm_alpha=self.srm_alpha,
            stall_hours=self.stall_hours,
        )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def audit_details(perf: CanaryPerformance) -> dict[str, Any]:
    """The `guard_check` audit row's details: what the guard saw and did (`guard_action`: the row's own
    `action` is `guard_check`, and `logs` merges details into the row)."""
    c = perf.comparison
    return {
        "guard_action": perf.decision.action,
        "recommendation": perf.recommendation,
        "bundle_id": perf.canary_bundle_id,
        "stable_bundle_id": perf.stable_bundle_id,
        "canary_percent": perf.canary_percent,
        "quality_delta": c.quality.value,
        "latency_delta": c.latency.value,
        "quality_delta_interval": c.quality.interval,
        "latency_delta_interval": c.latency.interval,
        "n_canary": perf.n_canary,
        "n_stable": perf.n_stable,
        "srm_p_value": c.srm_p_value,
        "hours_running": perf.hours_running,
        "stalled": perf.stalled,
    }


def check_one(
    tx: Transaction,
    dep: Deployment,
    *,
    as_of: datetime,
    config: GuardConfig,
    auto_promote: bool,
    hold_hours: float,
    ran_as: str,
    run_id: str | None,
) -> dict[str, Any]:
    """One canary's look, all writes in the caller's transaction; returns the `check` entry plus what changed."""
    perf = canary_performance(canary_store.decisions(tx, dep, as_of), dep, as_of, config)
    check_store.record(tx, perf, checked_at=as_of, run_id=run_id)
    audit.append(tx, at=as_of, agent=dep.agent, action="guard_check", actor=GUARD_ACTOR, ran_as=ran_as,
                 reason=perf.decision.reason, details=audit_details(perf), run_id=run_id)
    entry = perf.check_dict()
    entry["auto_promoted_to"] = None
    change = None
    if perf.decision.action == "rollback":
        change = canary_store.change(
            tx, dep.agent, lambda d: rollback(d, as_of), at=as_of, actor=GUARD_ACTOR, ran_as=ran_as,
            reason=perf.decision.reason, details=perf.decision.details, run_id=run_id,
        )
    elif auto_promote and perf.recommendation == "promote" and dep.canary_percent in NEXT_PERCENT:
        if auto_promotion_due(check_store.looks(tx, dep, before=as_of), hold_hours, as_of):
            target = NEXT_PERCENT[dep.canary_percent]
            change = canary_store.change(
                tx, dep.agent, lambda d: promote(d, target, as_of), at=as_of, actor=GUARD_ACTOR, ran_as=ran_as,
                reason=AUTO_PROMOTION_REASON,
                details={"hold_hours": hold_hours, "quality_delta": perf.quality_delta,
                         "latency_delta": perf.latency_delta},
                run_id=run_id,
            )
            entry["auto_promoted_to"] = target
    return {"entry": entry, "perf": perf, "change": change}


def _guard_targets(wh: Warehouse, agent: str, as_of: datetime) -> list[Deployment]:
    """The canaries to check; refuses (nothing written) an agent without a canary or a look before a change."""
    deployments = canary_store.active(wh, agent or None)
    if agent and not deployments:
        raise CanaryError(f"agent {agent} has no active canary")
    for dep in deployments:
        if dep.updated_at is not None and as_of < dep.updated_at:
            raise CanaryError(
                f"as_of {as_of.isoformat()} is before agent {dep.agent}'s last deployment change at "
                f"{dep.updated_at.isoformat()}"
            )
    return deployments


def check_metadata(results: list[dict[str, Any]], as_of: datetime) -> dict[str, Any]:
    """The `canary_checks` materialization: counts and per-agent floats the UI plots."""
    metadata: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "canaries_checked": float(len(results)),
        "rollbacks": float(sum(r["entry"]["action"] == "rollback" for r in results)),
        "refused": float(sum(r["entry"]["action"] == "refused" for r in results)),
    }
    for r in results:
        perf: CanaryPerformance = r["perf"]
        c = perf.comparison
        numbers = {
            "quality_delta": c.quality.value,
            "latency_delta": c.latency.value,
            "quality_ci_low": c.quality.low,
            "quality_ci_high": c.quality.high,
            "latency_ci_low": c.latency.low,
            "latency_ci_high": c.latency.high,
            "n_canary": perf.n_canary,
            "n_stable": perf.n_stable,
            "hours_running": perf.hours_running,
            "canary_percent": perf.canary_percent,
        }
        for name, value in numbers.items():
            number = _finite(value)
            if number is not None:
                metadata[f"{name}/{perf.agent}"] = number
    metadata["checks"] = dg.MetadataValue.json([r["entry"] for r in results])
    return metadata


def _evaluation(name: str, passed: bool, severity: dg.AssetCheckSeverity, description: str | None,
                **metadata: Any) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("canary_checks"), check_name=name, passed=passed, severity=severity,
        description=description, metadata=metadata,
    )


def check_evaluations(entries: list[dict[str, Any]]) -> list[dg.AssetCheckEvaluation]:
    """The three checks of one guard run, from its `check` entries."""
    stalled = [e["agent"] for e in entries if e["performance"]["stalled"]]
    srm = [e["agent"] for e in entries if e["reason"] == "sample_ratio_mismatch"]
    rolled = [e for e in entries if e["action"] == "rollback"]
    return [
        _evaluation(
            STALLED_CHECK, not stalled, dg.AssetCheckSeverity.WARN,
            f"stalled at monitor for more than 72 h, manual decision needed: {', '.join(stalled)}" if stalled else None,
            stalled=", ".join(stalled) or "none",
        ),
        _evaluation(
            SRM_CHECK, not srm, dg.AssetCheckSeverity.WARN,
            f"guard refused, sample-ratio mismatch (check the router): {', '.join(srm)}" if srm else None,
            mismatched=", ".join(srm) or "none",
        ),
        _evaluation(
            REGRESSION_CHECK, not rolled, dg.AssetCheckSeverity.ERROR,
            "; ".join(f"{e['agent']} rolled back: {e['reason']}" for e in rolled) or None,
            rolled_back=", ".join(e["agent"] for e in rolled) or "none",
        ),
    ]


@dg.op(
    name=GUARD_OP,
    pool=WAREHOUSE_POOL,
    out=dg.Out(list, description="The `canaries check --json` output: one entry per active canary"),
    description="Check every active canary (or one agent's); roll back significant regressions.",
)
def canary_guard_op(
    context: dg.OpExecutionContext, config: GuardJobConfig, warehouse: WarehouseResource, runtime: RuntimeResource
):
    as_of = parse_as_of(config.as_of)
    base = config.guard_config()
    ran_as = audit.ran_as_of_run(context.run.tags)
    wh = warehouse.get()
    results = []
    with wh.session():
        targets = _guard_targets(wh, config.agent.strip(), as_of)
        settings = {dep.agent: canary_store.agent_config(runtime.home, dep.agent) for dep in targets}
        for target in targets:
            agent_cfg = settings[target.agent]
            with wh.transaction() as tx:
                dep = canary_store.load(tx, target.agent)  # re-read inside the transaction
                if not dep.has_canary:
                    continue
                result = check_one(
                    tx, dep, as_of=as_of, config=canary_store.guard_config(base, agent_cfg),
                    auto_promote=config.auto_promote or agent_cfg.auto_promote,
                    hold_hours=config.auto_promote_hold_hours, ran_as=ran_as, run_id=context.run_id,
                )
            results.append(result)
            entry = result["entry"]
            context.log.info(
                f"{dep.agent}: {entry['action']} ({entry['reason']}), recommendation "
                f"{entry['performance']['recommendation']}, n {result['perf'].n_canary}/{result['perf'].n_stable}"
            )
    yield dg.AssetMaterialization(asset_key="canary_checks", metadata=check_metadata(results, as_of))
    for result in results:
        change = result["change"]
        if change is not None:
            yield dg.AssetMaterialization(
                asset_key="canaries",
                description=f"{change.action} {change.deployment.agent} by the guard",
                metadata=deployment_metadata(change.deployment, change.action, actor=GUARD_ACTOR,
                                             reason=result["entry"]["reason"] if change.action == "rolled_back"
                                             else AUTO_PROMOTION_REASON),
            )
    entries = [r["entry"] for r in results]
    for evaluation in check_evaluations(entries):
        context.log_event(evaluation)
    yield dg.Output(entries)


@dg.job(name="canary_guard", description="The canary guard (contract §9.5): check active canaries, roll back regressions.")
def canary_guard():
    canary_guard_op()


def guard_run_config(**config: Any) -> dict[str, Any]:
    return {"ops": {GUARD_OP: {"config": {k: v for k, v in config.items() if v not in (None, "")}}}}


@dg.schedule(
    job=canary_guard,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    name="canary_guard_nightly",
    description="05:00 UTC: the guard checks every active canary; skips while active learning is paused.",
)
def canary_guard_nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    reason = pause_reason(warehouse.get())
    if reason:
        return dg.SkipReason(reason)
    when = tick_time(context)
    return dg.RunRequest(
        run_key=f"guard:{when:%Y-%m-%dT%H:%M}",
        run_config=guard_run_config(as_of=when.isoformat()),
        tags={"learning_loop/trigger": "canary_guard_nightly"},
    )


@dg.sensor(
    job=canary_guard,
    minimum_interval_seconds=300,
    description="Run the guard for an agent with an active canary when new decisions of it arrive "
    "(cursor: per agent, latest loaded_at/decided_at and count); skips while active learning is paused.",
)
def canary_guard_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    wh = warehouse.get()
    reason = pause_reason(wh)
    if reason:  # the cursor stays: decisions that arrived meanwhile trigger a run after resuming
        return dg.SkipReason(reason)
    deployments = canary_store.active(wh)
    if not deployments:
        return dg.SkipReason("no active canary")
    previous = json.loads(context.cursor) if context.cursor else {}
    marks = canary_store.decision_marks(wh, [d.agent for d in deployments])
    requests = []
    for dep in deployments:
        mark = marks.get(dep.agent)
        if mark is None or previous.get(dep.agent) == mark:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{dep.agent}:{dep.canary_bundle_id}:{mark}",
                run_config=guard_run_config(agent=dep.agent),
                tags={"learning_loop/agent": dep.agent, "learning_loop/trigger": "new_decisions"},
            )
        )
    cursor = json.dumps({**previous, **marks}, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new decisions of an agent with an active canary"),
                               cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


# --------------------------------------------------------------------------- checks run alone (from the UI)


@dg.asset_check(
    asset="canary_checks",
    name=STALLED_CHECK,
    description="WARN when a canary has been at `monitor` for more than 72 hours (runbook: stalled, "
    "manual decision needed: promote or roll back). Evaluated by every guard run; alone it reads the "
    "newest look per active canary.",
    pool=WAREHOUSE_POOL,
)
def canary_not_stalled(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    looks = check_store.latest(warehouse.get())
    stalled = [str(r.agent) for r in looks.itertuples() if json.loads(r.details or "{}").get("stalled")]
    return dg.AssetCheckResult(
        passed=not stalled, severity=dg.AssetCheckSeverity.WARN,
        description=f"stalled, manual decision needed: {', '.join(stalled)}" if stalled else None,
        metadata={"stalled": ", ".join(stalled) or "none", "canaries": len(looks)},
    )


@dg.asset_check(
    asset="canary_checks",
    name=SRM_CHECK,
    description="WARN when the guard refused to judge a canary because its observed share contradicts "
    "canary_percent (sample-ratio mismatch: check the router). Alone it reads the newest look per canary.",
    pool=WAREHOUSE_POOL,
)
def canary_sample_ratio(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    looks = check_store.latest(warehouse.get())
    bad = [str(a) for a, r in zip(looks["agent"], looks["reason"]) if r == "sample_ratio_mismatch"]
    return dg.AssetCheckResult(
        passed=not bad, severity=dg.AssetCheckSeverity.WARN,
        description=f"sample-ratio mismatch: {', '.join(bad)}" if bad else None,
        metadata={"mismatched": ", ".join(bad) or "none", "canaries": len(looks)},
    )


@dg.asset_check(
    asset="canary_checks",
    name=REGRESSION_CHECK,
    description="ERROR when the guard rolled a canary back (runbook critical alert: canary regression "
    "detected and auto-rollback triggered). Alone it looks at the last 24 hours.",
    pool=WAREHOUSE_POOL,
)
def canary_regression(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    since = datetime.now(timezone.utc) - timedelta(hours=24)
    frame = warehouse.get().query_df(
        "SELECT agent, reason FROM canary_checks WHERE action = 'rollback' AND checked_at >= :since ORDER BY agent",
        {"since": since},
    )
    rolled = [f"{a}: {r}" for a, r in zip(frame["agent"], frame["reason"])]
    return dg.AssetCheckResult(
        passed=not rolled, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(rolled) or None,
        metadata={"rolled_back": ", ".join(rolled) or "none"},
    )

