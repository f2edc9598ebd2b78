"""The demo's second half (runbook 003): labeled data → bundle training → approval → canary → guard → audit log.

It replays the sample data's deployment history (see `learning_loop.sample_data`): the nightly training
schedule evaluated at 2024-03-01 04:00 UTC trains and proposes every agent's first bundle, an operator
approves them and applies them (a first bundle becomes stable at once: a forced promotion, logged so);
the nightly training of 2024-03-08 04:00 proposes a new inbox_triage bundle, which the operator approves
and applies as a 10 % canary; the guard then checks it as of 2024-03-11. Every step is a Dagster run
(the schedule's runs carry the schedule's tag, as the daemon would launch them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg

from learning_loop.orchestration.instance import get_instance
from learning_loop.orchestration.resources import resources_for
from learning_loop.orchestration.runner import run_job
from learning_loop.sample_data import CANARY_AGENT, CANARY_APPLIED_AT, CANARY_BUNDLE_AT, CANARY_PERCENT, FIRST_BUNDLE_AT
from learning_loop.settings import Settings
from learning_loop.stores.audit import RAN_AS_TAG, os_identity
from learning_loop.views.active_learning import labeled_stats_view
from learning_loop.views.bundles import logs_view, pending_view
from learning_loop.views.canaries import active_view
from learning_loop.warehouse.backend import open_warehouse

OPERATOR = "ops_lead"
STATS_AS_OF = datetime(2024, 3, 11, tzinfo=timezone.utc)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _nightly_training(settings: Settings, when: datetime) -> list[dict[str, Any]]:
    """Evaluate `bundle_training_nightly` at `when` and run its requests as the daemon would."""
    from learning_loop.definitions import defs

    schedule = defs.resolve_schedule_def("bundle_training_nightly")
    instance = get_instance(settings)
    try:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=_utc(when), resources=resources_for(settings)
        ) as context:
            requests = schedule.evaluate_tick(context).run_requests or []
    finally:
        instance.dispose()
    out = []
    for request in requests:
        tags = {**request.tags, "dagster/schedule_name": schedule.name}
        outcome = run_job("train_bundle", settings=settings, run_config=request.run_config, tags=tags,
                          output_of="train_bundle_op")
        out.append(outcome.output)
    return out


def _approval(settings: Settings, **config: Any) -> dict[str, Any]:
    return run_job(
        "approval_action", settings=settings, run_config={"ops": {"approval_action_op": {"config": config}}},
        tags={RAN_AS_TAG: os_identity()}, output_of="approval_action_op",
    ).output


def _approve_and_apply(settings: Settings, approval: dict[str, Any], at: datetime, percent: int) -> None:
    _approval(settings, action="approve", approval_id=approval["approval_id"], actor=OPERATOR,
              rationale=f"demo: {approval['recommendation']} per the runbook's criteria", as_of=_utc(at).isoformat())
    _approval(settings, action="apply", approval_id=approval["approval_id"], canary_percent=percent,
              as_of=_utc(at + timedelta(minutes=5)).isoformat())


def run_active_learning(settings: Settings, say: Callable[[str], None]) -> None:
    wh = open_warehouse(settings.warehouse_url)
    run_job("load_feeds", settings=settings, progress="      loading labels, judgments and decisions")
    stats = labeled_stats_view(wh, STATS_AS_OF)
    say(f"      labeled data as of {STATS_AS_OF:%Y-%m-%d}: {json.dumps(stats)}")

    trained = _nightly_training(settings, FIRST_BUNDLE_AT)
    say(f"      nightly training {FIRST_BUNDLE_AT:%Y-%m-%d %H:%M}: " + "; ".join(
        f"{b['bundle_id']} ({b['training_count']} examples, held-out accuracy {b['accuracy']:.3f})" for b in trained))
    for approval in pending_view(wh):
        _approve_and_apply(settings, approval, FIRST_BUNDLE_AT + timedelta(hours=5), 100)
    say(f"      {OPERATOR} approved them; a first bundle becomes stable at once (logged `force_promoted`)")

    trained = _nightly_training(settings, CANARY_BUNDLE_AT)
    say(f"      nightly training {CANARY_BUNDLE_AT:%Y-%m-%d %H:%M}: proposed " + ", ".join(b["bundle_id"] for b in trained))
    for approval in pending_view(wh):
        if approval["agent"] == CANARY_AGENT:
            diff = approval["diff"]
            say(f"      approval {approval['approval_id']}: recommendation {approval['recommendation']}, "
                f"accuracy_delta {diff.get('accuracy_delta')} on the same held-out examples")
            _approve_and_apply(settings, approval, CANARY_APPLIED_AT - timedelta(minutes=5), CANARY_PERCENT)
    say(f"      {CANARY_AGENT} canary at {CANARY_PERCENT} % since {CANARY_APPLIED_AT:%Y-%m-%d %H:%M}; "
        f"other proposals stay pending: {len(pending_view(wh))}")

    run_job("canary_guard", settings=settings, tags={RAN_AS_TAG: os_identity()},
            run_config={"ops": {"canary_guard_op": {"config": {"as_of": STATS_AS_OF.isoformat()}}}})
    for entry in active_view(wh, STATS_AS_OF, settings.home):
        perf = entry["performance"]
        say(f"      guard as of {STATS_AS_OF:%Y-%m-%d}: {entry['agent']} {entry['bundle_id']} at "
            f"{entry['canary_percent']} %, quality_delta {perf['quality_delta']}, latency_delta {perf['latency_delta']}, "
            f"n {perf['n_canary']}/{perf['n_stable']} → {perf['recommendation']}")
    say("      audit log (newest first):")
    for row in logs_view(wh)[:12]:
        say(f"        {row['timestamp']}  {row['action']:<15} {row.get('agent') or '-':<16} by {row['actor']} "
            f"(ran as {row['ran_as']}){' — ' + row['reason'] if row.get('reason') else ''}")
