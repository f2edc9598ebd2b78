"""Operator commands of runbook 003 for canaries, the guard and judge weights (SPEC §11–12).

    learning-loop route --agent A --key K [--json]
    learning-loop canaries active [--as-of TS] [--json]
    learning-loop canaries performance AGENT [--as-of TS] [--json]
    learning-loop canaries promote AGENT --target-percent 50|100 [--actor X] [--as-of TS] [--json]
    learning-loop canaries rollback AGENT [--reason R] [--actor X] [--as-of TS] [--json]
    learning-loop canaries check [--agent A] [--as-of TS] [--json]
    learning-loop weights [--as-of TS] [--json]

`promote`, `rollback` and `check` run as Dagster runs (`canary_action`,
`canary_guard`). Each is first tried on the current deployment, so an invalid
transition is one line on stderr, exit 2, and no run and no row.
"""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, emit, fmt, launch, settings_of, ui_hint, warehouse
from learning_loop.defs.canaries.deployments import ACTION_OP, transition_for
from learning_loop.defs.canaries.guard import GUARD_OP, guard_run_config
from learning_loop.domain.canaries import CanaryError
from learning_loop.stores import canaries as canary_store
from learning_loop.stores.planning import parse_as_of
from learning_loop.views.canaries import (
    active_view,
    check_agent,
    performance_view,
    route_view,
    weights_detail,
    weights_view,
)


def _tags(agent: str | None = None) -> dict[str, str]:
    """The run's agent tag (`launch` adds who really ran it)."""
    return {"learning_loop/agent": agent} if agent else {}


# --------------------------------------------------------------------------- route


def cmd_route(args: argparse.Namespace) -> int:
    payload = route_view(warehouse(args), args.agent, args.key)

    def render(p: dict[str, Any]) -> str:
        if p["bundle_id"] is None:
            return f"{args.agent} key {args.key!r}: {p['arm']} (no bundle deployed yet)"
        return f"{args.agent} key {args.key!r}: {p['arm']} → {p['bundle_id']}"

    emit(args, payload, render)
    return 0


# --------------------------------------------------------------------------- views


def _render_entry(e: dict[str, Any]) -> str:
    p = e["performance"]
    flag = "  STALLED: manual decision needed" if e.get("stalled") else ""
    return (
        f"  {e['agent']:<18} {e['bundle_id']:<32} {e['canary_percent']:>3}%  {fmt(e['hours_running'], 1):>6} h  "
        f"quality {fmt(p['quality_delta'])} latency {fmt(p['latency_delta'])}  "
        f"n {p['n_canary']}/{p['n_stable']}  {p['recommendation']} ({p['guard_reason']}){flag}"
    )


def cmd_active(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    payload = active_view(warehouse(args), as_of, settings_of(args).home)

    def render(entries: list[dict[str, Any]]) -> str:
        if not entries:
            return f"no active canaries as of {as_of.isoformat()}"
        lines = [f"active canaries as of {as_of.isoformat()} (deltas canary/stable - 1, n canary/stable):"]
        return "\n".join(lines + [_render_entry(e) for e in entries])

    emit(args, payload, render)
    return 0


def cmd_performance(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    payload = performance_view(warehouse(args), args.agent, as_of, settings_of(args).home)

    def render(e: dict[str, Any]) -> str:
        p = e["performance"]
        lines = [
            f"{e['agent']}: canary {e['bundle_id']} at {e['canary_percent']}% vs stable {e['stable_bundle_id']}, "
            f"deployed {e['deployed_at']} ({fmt(e['hours_running'], 1)} h)",
            f"  quality delta {fmt(p['quality_delta'])} interval {_interval(p['quality_delta_interval'])}",
            f"  latency delta {fmt(p['latency_delta'])} interval {_interval(p['latency_delta_interval'])}",
            f"  decisions canary {p['n_canary']}, stable {p['n_stable']}; canary share {fmt(p['canary_share'])} "
            f"(expected {fmt(p['expected_share'])}, SRM p {fmt(p['srm_p_value'], 4)})",
            f"  guard: {p['guard_action']} ({p['guard_reason']}); recommendation: {e['recommendation']}"
            + ("  STALLED: manual decision needed" if e["stalled"] else ""),
        ]
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


def _interval(value: list[float] | None) -> str:
    return "-" if not value else f"[{fmt(value[0])}, {fmt(value[1])}]"


# --------------------------------------------------------------------------- promote / rollback


def _action(args: argparse.Namespace, action: str, target: int = 0) -> int:
    agent = check_agent(args.agent)
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    transition_for(action, target, at)(canary_store.load(wh, agent))  # dry run: refuses before any run
    config = {"agent": agent, "action": action, "target_percent": target, "actor": args.actor or "",
              "reason": getattr(args, "reason", "") or "", "as_of": at.isoformat()}
    outcome = launch(args, "canary_action", run_config={"ops": {ACTION_OP: {"config": config}}},
                     tags=_tags(agent), output_of=ACTION_OP)
    payload = {**outcome.output, "run_id": outcome.run_id}

    def render(p: dict[str, Any]) -> str:
        if p["status"] == "rolled_back":
            text = f"{p['agent']}: canary {p['bundle_id']} rolled back; stable {p['stable_bundle_id']} serves all"
        elif p["canary_bundle_id"] is None:
            text = f"{p['agent']}: {p['bundle_id']} promoted to 100%, now the stable bundle"
        else:
            text = f"{p['agent']}: canary {p['bundle_id']} promoted to {p['canary_percent']}%"
        return text + "\n" + ui_hint(p["run_id"])

    emit(args, payload, render)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    return _action(args, "promote", args.target_percent)


def cmd_rollback(args: argparse.Namespace) -> int:
    return _action(args, "rollback")


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    at = parse_as_of(args.as_of)
    wh = warehouse(args)
    agent = check_agent(args.agent) if args.agent else ""
    targets = canary_store.active(wh, agent or None)
    if agent and not targets:
        raise CanaryError(f"agent {agent} has no active canary")
    for dep in targets:
        if dep.updated_at is not None and at < dep.updated_at:
            raise CanaryError(f"--as-of {at.isoformat()} is before agent {dep.agent}'s last deployment change "
                              f"at {dep.updated_at.isoformat()}")
    outcome = launch(args, "canary_guard", run_config=guard_run_config(agent=agent, as_of=at.isoformat()),
                     tags=_tags(agent or None), output_of=GUARD_OP)
    payload = outcome.output

    def render(entries: list[dict[str, Any]]) -> str:
        if not entries:
            return f"no active canaries to check as of {at.isoformat()}\n" + ui_hint(outcome.run_id)
        lines = [f"guard as of {at.isoformat()}:"]
        for e in entries:
            p = e["performance"]
            extra = f", promoted to {e['auto_promoted_to']}%" if e.get("auto_promoted_to") else ""
            lines.append(
                f"  {e['agent']:<18} {e['action']:<8} {e['reason']:<22} quality {fmt(p['quality_delta'])} "
                f"latency {fmt(p['latency_delta'])} n {p['n_canary']}/{p['n_stable']} "
                f"recommendation {p['recommendation']}{extra}"
            )
        return "\n".join(lines + [ui_hint(outcome.run_id)])

    emit(args, payload, render)
    return 0


# --------------------------------------------------------------------------- weights


def cmd_weights(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of) if args.as_of else None
    wh = warehouse(args)
    payload = weights_view(wh, as_of)

    def render(_: dict[str, Any]) -> str:
        detail = weights_detail(wh, as_of)
        if detail["partition_date"] is None:
            return "no judge weights yet: materialize the judge_weights asset (job judge_weights_job)"
        lines = [f"judge weights of partition {detail['partition_date']}:"]
        for r in detail["rows"]:
            flag = "  LOW" if r["weight"] < 0.3 else ""
            lines.append(f"  {r['agent']:<18} {r['judge']:<20} {r['weight']:.2f}  n_gold {r['n_gold']}  "
                         f"auc {fmt(r['auc'])}  {r['reason']}{flag}")
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


# --------------------------------------------------------------------------- registration


def _dispatch(args: argparse.Namespace) -> int:
    return args.canaries_func(args)


def register(add: AddCommand) -> None:
    p = add("route", cmd_route, "which arm and bundle serve a request key (deterministic canary routing)")
    p.add_argument("--agent", required=True, help="agent name")
    p.add_argument("--key", required=True, help="the request's routing key")

    p = add("weights", cmd_weights, "judge weights {agent: {judge: weight}} of the newest partition")
    p.add_argument("--as-of", default="", help="ISO-8601: the newest partition complete at this time")

    p = add("canaries", _dispatch, "active canaries, their performance, promote, rollback, the guard",
            json_flag=False)
    sub = p.add_subparsers(dest="canaries_command", required=True, metavar="ACTION")

    def sub_add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.set_defaults(canaries_func=func)
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.add_argument("--as-of", default="", help="ISO-8601 time (default now, UTC); "
                       "views and check see only decisions made before it")
        return q

    sub_add("active", cmd_active, "active canaries with performance and recommendation")
    q = sub_add("performance", cmd_performance, "one agent's canary: deltas, intervals, guard verdict")
    q.add_argument("agent", help="agent name")
    q = sub_add("promote", cmd_promote, "raise a canary to 50 %%, or to 100 %% (it becomes the stable bundle)")
    q.add_argument("agent", help="agent name")
    q.add_argument("--target-percent", type=int, required=True, help="50 or 100 (only upward)")
    q.add_argument("--actor", default="", help="who decided (default: your user@host)")
    q = sub_add("rollback", cmd_rollback, "drop a canary; the stable bundle serves all")
    q.add_argument("agent", help="agent name")
    q.add_argument("--reason", default="", help="why (default manual_rollback)")
    q.add_argument("--actor", default="", help="who decided (default: your user@host)")
    q = sub_add("check", cmd_check, "run the guard now (a canary_guard run) and print its verdicts")
    q.add_argument("--agent", default="", help="only this agent's canary")
