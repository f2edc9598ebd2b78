"""Read-only views of the learnt models (issue 4): ``arms`` and ``predictors``; both query the warehouse only."""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, emit, fmt, warehouse
from learning_loop.views.models import arms_view, predictors_view

TOP_COEFFICIENTS = 6  # largest |weight| shown per version in text output


TITLE = "learnt arms and predictors (runbook 004)"

def render_arms(p: dict[str, Any]) -> str:
    if p["partition_date"] is None:
        return (f"no bandit arms for {p['project_id']} yet: run `learning-loop update-stats --date D` "
                "or `learning-loop backfill`")
    lines = [
        f"bandit arms of {p['project_id']} as of partition {p['partition_date']} "
        f"(window {p['window_days']} days, success = engagement_rate > {p['success_threshold']})",
        f"{'arm':<28} {'pulls':>5} {'succ':>5} {'mean':>6} {'sd':>6} {'ucb1':>6}",
    ]
    for arm in p["arms"]:
        ucb1 = "untried" if arm["arm_type"] == "timing" and arm["untried"] else fmt(arm["ucb1"])
        lines.append(
            f"{arm['arm']:<28} {arm['pulls']:>5} {arm['successes']:>5} {fmt(arm['mean']):>6} "
            f"{fmt(arm['posterior_sd']):>6} {ucb1:>6}"
        )
    return "\n".join(lines)


def render_predictors(p: dict[str, Any]) -> str:
    if not p["versions"]:
        return (f"no predictor versions for {p['project_id']} yet: run `learning-loop update-stats --date D` "
                "or `learning-loop backfill`")
    lines = [f"predictor versions of {p['project_id']}"]
    for model in p["models"]:
        lines.append(f"  latest {model}: {p['latest'].get(model) or 'none trained yet'}")
    for v in p["versions"]:
        if v["status"] != "trained":
            lines.append(f"{v['partition_date']} {v['model']:<24} skipped: {v['skip_reason']}")
            continue
        if v["model"].startswith("ridge"):
            quality = f"r2={fmt(v['r2'])} mae={fmt(v['mae'], 4)} (mean predictor mae={fmt(v['baseline_mae'], 4)})"
        else:
            quality = (f"log_loss={fmt(v['log_loss'])} auc={fmt(v['auc'])} "
                       f"calibration_error={fmt(v['calibration_error'])}")
        weights = sorted((v["coefficients"] or {}).items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        coefs = ", ".join(f"{k}={c:.3g}" for k, c in weights[:TOP_COEFFICIENTS])
        more = f" (+{len(weights) - TOP_COEFFICIENTS} more; --json lists all)" if len(weights) > TOP_COEFFICIENTS else ""
        lines.append(f"{v['partition_date']} {v['model']:<24} n_train={v['n_train']} {quality}")
        lines.append(f"{'':<11}intercept={fmt(v['intercept'], 4)} {coefs}{more}")
    return "\n".join(lines)


def cmd_arms(args: argparse.Namespace) -> int:
    emit(args, arms_view(warehouse(args), args.project), render_arms)
    return 0


def cmd_predictors(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BadInput(f"--limit must be at least 1, got {args.limit}")
    emit(args, predictors_view(warehouse(args), args.project, limit=args.limit), render_predictors)
    return 0


def register(add: AddCommand) -> None:
    p = add("arms", cmd_arms, "bandit arms (content types and posting hours) of a project's latest partition")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p = add("predictors", cmd_predictors, "predictor versions (ridge engagement rate, logistic follow-through) of a project")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--limit", type=int, default=20, help="newest partitions to list (default 20)")
