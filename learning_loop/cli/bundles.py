"""Operator commands of runbook 003 for bundles, approvals, the audit log and pause/resume (SPEC §10, §12).

    learning-loop bundles create|show|active|diff|upload|from-prompt ...
    learning-loop approvals propose|pending|recent|show|approve|reject|apply ...
    learning-loop logs [--action A] [--agent A] [--hours H] [--as-of TS]
    learning-loop pause --reason R [--actor X] [--as-of TS]
    learning-loop resume [--actor X] [--as-of TS]

State changes run as Dagster runs (`train_bundle`, `upload_bundle`,
`prompt_bundle`, `approval_action`, `set_learning_state`) tagged with who really ran them.
Every input is checked before the run is launched: bad input exits 2 with one
line and leaves no run and no row behind.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, emit, fmt, launch, settings_of, warehouse
from learning_loop.defs.active_learning.state import check_change
from learning_loop.domain.active_learning.approvals import CANARY_PERCENTS
from learning_loop.domain.active_learning.pause import pause as pause_state
from learning_loop.domain.active_learning.training import DEFAULT_MIN_EXAMPLES, MODEL_TYPES
from learning_loop.stores import approvals as approval_store
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores.audit import os_identity
from learning_loop.stores.planning import parse_as_of
from learning_loop.views import bundles as views


def _tags(**extra: str) -> dict[str, str]:
    """Extra run tags (`launch` adds who really ran it)."""
    return dict(extra)


def _nested(add: AddCommand, name: str, help_text: str) -> Callable[..., argparse.ArgumentParser]:
    """A command with sub-actions (`bundles show ...`); `--json` works before or after the action."""
    parent = add(name, lambda args: args.action_func(args), help_text)
    sub = parent.add_subparsers(dest=f"{name}_action", required=True, metavar="ACTION")

    def action(action_name: str, func: Callable[[argparse.Namespace], int], action_help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(action_name, help=action_help, description=action_help)
        p.set_defaults(action_func=func)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
        return p

    return action


def _as_of_arg(p: argparse.ArgumentParser, what: str = "time of the action") -> None:
    p.add_argument("--as-of", default="", help=f"ISO-8601 {what} (default now, UTC)")


# ---------------------------------------------------------------------------------------------- bundles


def _render_bundle(p: dict[str, Any]) -> str:
    lines = [
        f"bundle {p['bundle_id']} ({p['agent']}, {p['model_type']}"
        + (f", {p['source']}" if p.get("source") else "")
        + f"): {fmt(p['training_count'])} examples, accuracy {fmt(p['accuracy'])}"
    ]
    for param, value in sorted(p["thresholds"].items()):
        lines.append(f"  {param:<32} {fmt(value, 4)}")
    return "\n".join(lines)


def cmd_bundles_create(args: argparse.Namespace) -> int:
    if args.model_type not in MODEL_TYPES:
        raise BadInput(f"--model-type must be logistic or tree, got {args.model_type!r}")
    as_of = parse_as_of(args.as_of)
    wh = warehouse(args)
    bundle_store.check_train(
        wh, agent=args.agent, as_of=as_of, min_examples=args.min_examples, min_confidence=args.min_confidence,
        model_type=args.model_type,
    )
    config = {
        "agent": args.agent,
        "min_examples": args.min_examples,
        "model_type": args.model_type,
        "as_of": as_of.isoformat(),
        "min_confidence": args.min_confidence,
        "seed": args.seed,
    }
    outcome = launch(
        args, "train_bundle", run_config={"ops": {"train_bundle_op": {"config": config}}},
        tags=_tags(**{"learning_loop/agent": args.agent}), output_of="train_bundle_op",
    )
    emit(args, outcome.output, _render_bundle)
    return 0


def _render_prompt(p: dict[str, Any]) -> str:
    return (f"  variant {p['variant']} of training run {p['training_run_id']} (accuracy = mean token-F1 on the "
            f"held-out examples)\n  system prompt:\n" + "\n".join(f"    {line}" for line in p["system_prompt"].splitlines()))


def cmd_bundles_show(args: argparse.Namespace) -> int:
    payload = views.bundle_view(warehouse(args), args.bundle_id)

    def render(p: dict[str, Any]) -> str:
        head = _render_bundle(p)
        extra = f"  created {p['created_at']} by {p['created_by']} ({p['ran_as']})"
        if p.get("base_bundle_id"):
            extra += f", {'built on' if p.get('system_prompt') is not None else 'edited from'} {p['base_bundle_id']}"
        if p.get("deployed_as"):
            extra += f"; deployed as {p['deployed_as']}"
        if p.get("system_prompt") is not None:
            extra += "\n" + _render_prompt(p)
        return head + "\n" + extra

    emit(args, payload, render)
    return 0


def cmd_bundles_active(args: argparse.Namespace) -> int:
    payload = views.active_view(warehouse(args), args.agent, settings_of(args).home)
    emit(
        args, payload,
        lambda p: f"{p['agent']}: stable {p['stable_bundle_id'] or '-'}, canary {p['canary_bundle_id'] or '-'}"
        f" at {p['canary_percent']}%",
    )
    return 0


def _render_diff(p: dict[str, Any]) -> str:
    lines = [f"accuracy_delta {fmt(p['accuracy_delta'], 4)}"]
    for c in p["changes"]:
        if isinstance(c["old"], str) or isinstance(c["new"], str):  # system_prompt of a prompt bundle
            lines.append(f"  {c['param']}:")
            for side in ("old", "new"):
                text = c[side] if c[side] is not None else "- (the prompt of agents/<agent>.yaml)"
                lines.append(f"    {side}: " + "\n         ".join(text.splitlines() or [""]))
            continue
        lines.append(f"  {c['param']:<32} {fmt(c['old'], 4):>10} → {fmt(c['new'], 4):>10}  ({fmt(c['delta'], 4)})")
    return "\n".join(lines)


def cmd_bundles_diff(args: argparse.Namespace) -> int:
    emit(args, views.diff_view(warehouse(args), args.bundle_id), _render_diff)
    return 0


def cmd_bundles_upload(args: argparse.Namespace) -> int:
    at = parse_as_of(args.as_of)
    doc = bundle_store.read_upload_file(args.file)
    wh = warehouse(args)
    bundle_store.prepare_upload(wh, doc, home=settings_of(args).home, at=at)
    config = {"document": json.dumps(doc), "file_name": str(args.file), "actor": args.actor or "", "as_of": at.isoformat()}
    outcome = launch(
        args, "upload_bundle", run_config={"ops": {"upload_bundle_op": {"config": config}}},
        tags=_tags(**{"learning_loop/agent": str(doc["agent"])}), output_of="upload_bundle_op",
    )
    emit(args, outcome.output, _render_bundle)
    return 0


def cmd_bundles_from_prompt(args: argparse.Namespace) -> int:
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    bundle = bundle_store.prepare_prompt_bundle(
        wh, training_run_id=args.run_id, agent=args.agent or None, variant=args.variant or None, at=at
    )
    config = {"training_run_id": args.run_id, "agent": args.agent or "", "variant": args.variant or "",
              "actor": args.actor or "", "as_of": at.isoformat()}
    outcome = launch(
        args, "prompt_bundle", run_config={"ops": {"prompt_bundle_op": {"config": config}}},
        tags=_tags(**{"learning_loop/agent": bundle.agent}), output_of="prompt_bundle_op",
    )
    emit(args, outcome.output, lambda p: _render_bundle(p) + "\n" + _render_prompt(p))
    return 0


# ---------------------------------------------------------------------------------------------- approvals


def _render_approval(p: dict[str, Any]) -> str:
    delta = p["diff"].get("accuracy_delta")
    line = (
        f"{p['approval_id']} {p['status']:<8} {p['agent']}/{p['bundle_id']}  recommendation {p['recommendation']}, "
        f"accuracy_delta {fmt(delta, 4)}, training_count {fmt(p['training_count'])}, "
        f"requested by {p['requested_by']} at {p['created_at']}"
    )
    if p.get("decided_by"):
        verdict = "rejected" if p["status"] == "rejected" else "approved"
        line += f"\n    {verdict} by {p['decided_by']} at {p['decided_at']}: {p['rationale']}"
    if p.get("applied_at"):
        line += f"\n    applied at {p['canary_percent']}% at {p['applied_at']}"
    return line


def _render_approvals(items: list[dict[str, Any]], empty: str) -> str:
    return "\n".join(_render_approval(p) for p in items) if items else empty


def _launch_action(args: argparse.Namespace, config: dict[str, Any], agent: str):
    return launch(
        args, "approval_action", run_config={"ops": {"approval_action_op": {"config": config}}},
        tags=_tags(**{"learning_loop/agent": agent}), output_of="approval_action_op",
    )


def cmd_approvals_propose(args: argparse.Namespace) -> int:
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    approval_store.prepare_proposal(
        wh, agent=args.agent, bundle_id=args.bundle, proposer=args.proposer, ran_as=os_identity(), at=at,
        home=settings_of(args).home,
    )
    config = {"action": "propose", "agent": args.agent, "bundle_id": args.bundle, "actor": args.proposer,
              "as_of": at.isoformat()}
    outcome = _launch_action(args, config, args.agent)
    emit(args, outcome.output, lambda p: f"proposed: {p['approval_id']}")
    return 0


def cmd_approvals_pending(args: argparse.Namespace) -> int:
    emit(args, views.pending_view(warehouse(args)), lambda items: _render_approvals(items, "no pending approvals"))
    return 0


def cmd_approvals_recent(args: argparse.Namespace) -> int:
    if args.hours <= 0:
        raise BadInput(f"--hours must be positive, got {args.hours:g}")
    as_of = parse_as_of(args.as_of) if args.as_of else None
    items = views.recent_view(warehouse(args), args.hours, as_of)
    emit(args, items, lambda xs: _render_approvals(xs, f"no approvals in the last {args.hours:g} hours"))
    return 0


def cmd_approvals_show(args: argparse.Namespace) -> int:
    payload = views.approval_view(warehouse(args), args.approval_id)

    def render(p: dict[str, Any]) -> str:
        return _render_approval(p) + "\n" + _render_diff(p["diff"])

    emit(args, payload, render)
    return 0


def _decide(args: argparse.Namespace, action: str, who: str) -> int:
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    decision = approval_store.prepare_decision(
        wh, args.approval_id, action=action, who=who, rationale=args.rationale, ran_as=os_identity(), at=at,
        allow_same_operator=settings_of(args).allow_same_operator_approval,
    )
    config = {"action": action, "approval_id": args.approval_id, "actor": who, "rationale": args.rationale,
              "as_of": at.isoformat()}
    outcome = _launch_action(args, config, decision.approval.agent)
    if decision.same_operator_override:
        print(
            "warning: approved from the same OS identity as the proposal "
            "(LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL is on; the audit log records it)",
            file=sys.stderr,
        )
    emit(args, outcome.output, _render_approval)
    return 0


def cmd_approvals_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approve", args.approver)


def cmd_approvals_reject(args: argparse.Namespace) -> int:
    return _decide(args, "reject", args.rejector)


def _percent(value: str) -> int:
    try:
        percent = int(value)
    except (TypeError, ValueError):
        percent = None
    if percent not in CANARY_PERCENTS:
        raise BadInput(f"--canary-percent must be 10, 50 or 100, got {value!r}")
    return percent


def cmd_approvals_apply(args: argparse.Namespace) -> int:
    percent = _percent(args.canary_percent)
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    applied, _ = approval_store.prepare_apply(wh, args.approval_id, canary_percent=percent, at=at)
    config = {"action": "apply", "approval_id": args.approval_id, "canary_percent": percent,
              "actor": args.actor or "", "as_of": at.isoformat()}
    outcome = _launch_action(args, config, applied.agent)
    if percent == 100:
        print(
            f"warning: forced promotion — {applied.bundle_id} is now the stable bundle of {applied.agent}; "
            "the canary and its safety checks were skipped (logged as force_promoted)",
            file=sys.stderr,
        )
    emit(
        args, outcome.output,
        lambda p: f"{p['status']}: {p['bundle_id']} for {p['agent']} at {p['canary_percent']}%"
        f" (stable {p['deployment']['stable_bundle_id']}, canary {p['deployment']['canary_bundle_id'] or '-'})",
    )
    return 0


# ---------------------------------------------------------------------------------------------- logs, pause


def cmd_logs(args: argparse.Namespace) -> int:
    if args.hours is not None and args.hours <= 0:
        raise BadInput(f"--hours must be positive, got {args.hours:g}")
    as_of = parse_as_of(args.as_of) if args.as_of else None
    entries = views.logs_view(warehouse(args), action=args.action, agent=args.agent, hours=args.hours, as_of=as_of)
    base = {"timestamp", "agent", "action", "actor", "ran_as", "reason"}

    def render(items: list[dict[str, Any]]) -> str:
        if not items:
            return "no audit log entries"
        lines = []
        for e in items:
            details = {k: v for k, v in e.items() if k not in base}
            lines.append(
                f"{e['timestamp']}  {e['action']:<15} {e['agent'] or '-':<16} {e['actor']} ({e['ran_as']})"
                + (f"  reason: {e['reason']}" if e.get("reason") else "")
                + (f"  {json.dumps(details, sort_keys=True, default=str)}" if details else "")
            )
        return "\n".join(lines)

    emit(args, entries, render)
    return 0


def _default_actor(actor: str | None) -> str:
    return (actor or "").strip() or os_identity().split("@")[0]


def _set_state(args: argparse.Namespace, paused: bool) -> int:
    at = parse_as_of(args.as_of)
    actor = _default_actor(args.actor)
    reason = getattr(args, "reason", "") or ""
    if paused:
        pause_state(reason, actor, at)  # validates reason and actor
    check_change(warehouse(args), paused=paused, at=at)
    config = {"paused": paused, "reason": reason, "actor": actor, "as_of": at.isoformat()}
    outcome = launch(
        args, "set_learning_state", run_config={"ops": {"set_learning_state_op": {"config": config}}},
        tags=_tags(), output_of="set_learning_state_op",
    )
    emit(
        args, outcome.output,
        lambda p: f"learning paused by {p['actor']} at {p['at']}: {p['reason']}" if p["paused"]
        else f"learning resumed by {p['actor']} at {p['at']}",
    )
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    return _set_state(args, True)


def cmd_resume(args: argparse.Namespace) -> int:
    return _set_state(args, False)


# ---------------------------------------------------------------------------------------------- register


def register(add: AddCommand) -> None:
    action = _nested(add, "bundles", "train, inspect, compare and upload bundles")
    p = action("create", cmd_bundles_create, "train a bundle on the agent's labels (a Dagster run)")
    p.add_argument("--agent", required=True)
    p.add_argument("--min-examples", type=int, default=DEFAULT_MIN_EXAMPLES, help="default 50")
    p.add_argument("--model-type", default="logistic", help="logistic (default) or tree")
    p.add_argument("--min-confidence", type=float, default=None, help="only labels with confidence >= C (0-100)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    _as_of_arg(p, "time: train on examples labeled before it; names the bundle")
    p = action("show", cmd_bundles_show, "one bundle: thresholds, accuracy, provenance")
    p.add_argument("bundle_id")
    p = action("active", cmd_bundles_active, "the agent's stable and canary bundles")
    p.add_argument("--agent", required=True)
    p = action("diff", cmd_bundles_diff, "a bundle against the agent's stable bundle, on the same held-out examples")
    p.add_argument("bundle_id")
    p = action("upload", cmd_bundles_upload, 'store a hand-edited bundle {"agent", "thresholds"} (a Dagster run)')
    p.add_argument("file")
    p.add_argument("--actor", default="", help="who edited it (default: OS user@host)")
    _as_of_arg(p)
    p = action("from-prompt", cmd_bundles_from_prompt,
               "turn a variant of a pending_review prompt-optimization run into a prompt bundle (a Dagster run)")
    p.add_argument("run_id", metavar="RUN_ID", help="the prompt_optimization run's id (training_runs.run_id)")
    p.add_argument("--variant", default="", help="clarified|few_shot|restructured|combined (default: best token-F1)")
    p.add_argument("--agent", default="", help="needed only when the run covered several agents")
    p.add_argument("--actor", default="", help="who creates it (default: OS user@host)")
    _as_of_arg(p)

    action = _nested(add, "approvals", "propose, review, decide and apply bundle approvals")
    p = action("propose", cmd_approvals_propose, "ask for approval of a bundle")
    p.add_argument("--agent", required=True)
    p.add_argument("--bundle", required=True)
    p.add_argument("--proposer", required=True)
    _as_of_arg(p)
    action("pending", cmd_approvals_pending, "approvals waiting for a decision, oldest first")
    p = action("recent", cmd_approvals_recent, "approvals created, decided or applied recently, newest first")
    p.add_argument("--hours", type=float, default=48.0, help="default 48")
    _as_of_arg(p, "end of the window")
    p = action("show", cmd_approvals_show, "one approval with its diff")
    p.add_argument("approval_id")
    p = action("approve", cmd_approvals_approve, "approve a pending approval (not your own)")
    p.add_argument("approval_id")
    p.add_argument("--approver", required=True)
    p.add_argument("--rationale", required=True)
    _as_of_arg(p)
    p = action("reject", cmd_approvals_reject, "reject a pending approval")
    p.add_argument("approval_id")
    p.add_argument("--rejector", required=True)
    p.add_argument("--rationale", required=True)
    _as_of_arg(p)
    p = action("apply", cmd_approvals_apply, "deploy an approved bundle: canary at 10/50 %, 100 = forced promotion")
    p.add_argument("approval_id")
    p.add_argument("--canary-percent", required=True, help="10, 50 or 100 (100 skips the canary)")
    p.add_argument("--actor", default="", help="who deploys (default: the approver)")
    _as_of_arg(p)

    p = add("logs", cmd_logs, "the audit log, newest first")
    p.add_argument("--action", default=None, help="only this action (rollback = rolled_back)")
    p.add_argument("--agent", default=None)
    p.add_argument("--hours", type=float, default=None, help="only the last H hours before --as-of")
    _as_of_arg(p, "end of the window")

    p = add("pause", cmd_pause, "pause automatic active learning (feeds, training, weights, guard)")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default="", help="who pauses (default: OS user)")
    _as_of_arg(p)
    p = add("resume", cmd_resume, "resume automatic active learning")
    p.add_argument("--actor", default="", help="who resumes (default: OS user)")
    _as_of_arg(p)
