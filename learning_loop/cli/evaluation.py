"""Operator command of the planning runbook: evaluate-policy (off-policy evaluation, issue 12).

Read-only: it queries the warehouse and never creates one. See docs/off_policy_evaluation.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, emit, fmt, warehouse
from learning_loop.cli.planning import TITLE as PLANNING_TITLE
from learning_loop.domain.evaluation import POLICIES, SEEDS
from learning_loop.stores.planning import parse_as_of
from learning_loop.views.evaluation import DEFAULT_DAYS, policy_evaluation_view

#: listed with plan-next and experiments in `--help`
TITLE = PLANNING_TITLE

_SKIP_LABELS = {
    "no_propensity": "without propensity", "no_video": "without a video yet", "no_reward": "without a reward yet",
}


def _weight(value: float | None) -> str:
    """Three significant digits: weights of a uniform target can be 1e-6."""
    return "-" if value is None else f"{value:.3g}"


def render(p: dict[str, Any]) -> str:
    skipped = ", ".join(f"{n} {_SKIP_LABELS[k]}" for k, n in p["skipped"].items() if n) or "none"
    level = f"{100 * p['level']:g}%"
    lines = [
        f"off-policy evaluation of policy {p['policy']} for {p['project_id']}: jobs planned in the "
        f"{p['days']} days up to {p['as_of']}",
        f"  logged rounds used: {p['rounds']} (from {p['batches']} batches); skipped: {skipped}",
        f"  logged policy's mean reward: {fmt(p['logged_mean_reward'])}",
        f"  {'estimator':<10}{'value':>7}   {level} interval",
    ]
    for name, e in p["estimates"].items():
        lines.append(f"  {name:<10}{fmt(e['value']):>7}   [{fmt(e['ci_low'])}, {fmt(e['ci_high'])}]")
    lines.append(
        f"  effective sample size {fmt(p['effective_sample_size'], 1)} of {p['rounds']} rounds, "
        f"mean weight {_weight(p['mean_weight'])}, largest {_weight(p['max_weight'])}"
    )
    lines.extend(f"  note: {note}" for note in p["notes"])
    return "\n".join(lines)


def cmd_evaluate_policy(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    payload = policy_evaluation_view(warehouse(args), args.project, args.policy, args.days, as_of, level=args.level)
    emit(args, payload, render)
    return 0


def register(add: AddCommand) -> None:
    p = add("evaluate-policy", cmd_evaluate_policy,
            "off-policy estimate (IPW, SNIPW, DR) of a planning policy's mean reward from logged jobs")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--policy", choices=list(POLICIES), default=SEEDS,
                   help="target policy: seeds (the original fixed policy), uniform, or current (the logged "
                        "policy itself, a sanity check); default seeds")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS,
                   help=f"use jobs of batches planned in the last N days (default {DEFAULT_DAYS})")
    p.add_argument("--as-of", default="", help="ISO-8601 timestamp the window ends at (default now, UTC)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
