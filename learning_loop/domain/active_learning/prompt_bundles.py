"""Prompt bundles: a prompt-optimization variant shipped like any bundle (SPEC §10–11, §13).

A *prompt bundle* turns one variant of a `pending_review` prompt-optimization
training run into a bundle (`model_type` "prompt", `source`
"prompt_optimization"), so it goes through propose → approve → canary like a
threshold bundle.

**What it holds.** The bundle is a whole configuration of the agent: the
new system prompt *and* the thresholds, features and model of its *base*,
the agent's stable bundle when it was created (none for an agent without a
stable bundle). So deploying it changes the prompt and nothing else. The
`snapshot` records the prompt text, the variant name, the training run id,
the current prompt the run measured it against, both prompts' scores and the
held-out example ids (everything a reviewer needs; the run itself has the
outputs).

**Its numbers.** `training_count` = the examples the run used (the few-shot
and training part plus the held-out part: like a threshold bundle's, the
number the approval rules compare with 50 and 100); `accuracy` = the variant's
mean token-F1 on the held-out examples (for prompt bundles "accuracy" is
token-F1, not a classifier's accuracy); `n_scored` in the snapshot is how many
held-out examples that mean is over.

**Its diff** (`prompt_diff`): `changes` lists `system_prompt` (old = the
current prompt the run scored, new = the variant, delta None) plus any
threshold whose value differs from the stable bundle's (none while the base
is the stable bundle); `accuracy_delta` = variant token-F1 − current-prompt
token-F1, both measured in the same run on the same held-out examples. The
keys are exactly those of SPEC §10's diff.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.training import DECIMALS, TrainedBundle
from learning_loop.domain.jobs.prompts import CURRENT, VARIANTS, best_variant

PROMPT_MODEL_TYPE = "prompt"
PROMPT_SOURCE = "prompt_optimization"
PROMPT_PARAM = "system_prompt"
TRAINING_RUN_KIND = "prompt_optimization"
ACCURACY_METRIC = "token_f1"


class PromptBundleError(ValueError):
    """A training run or variant cannot become a prompt bundle (one line)."""


def is_prompt_bundle(bundle: TrainedBundle | None) -> bool:
    return bundle is not None and bundle.model_type == PROMPT_MODEL_TYPE


def system_prompt_of(bundle: TrainedBundle | None) -> str | None:
    """The system prompt a prompt bundle ships (None for other bundles)."""
    if not is_prompt_bundle(bundle):
        return None
    return bundle.snapshot.get("system_prompt")  # type: ignore[union-attr]


def prompt_bundle_id(agent: str, at: datetime) -> str:
    """`<agent>_<YYYYMMDD>_<HHMMSS>_prompt` of the creation time (UTC)."""
    return f"{agent}_{utc_naive(at):%Y%m%d_%H%M%S}_prompt"


def _round(value: float) -> float:
    rounded = round(float(value), DECIMALS)
    return 0.0 if rounded == 0 else rounded


def _f1(scores: Mapping[str, Any], name: str, run_id: str) -> float:
    value = (scores.get(name) or {}).get("token_f1")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PromptBundleError(f"training run {run_id} has no finite token-F1 for {name}")
    return float(value)


def choose_variant(details: Mapping[str, Any], variant: str | None, run_id: str) -> str:
    """The variant to ship: `variant`, or the run's best by token-F1 (then exact match)."""
    scores = details.get("scores") or {}
    prompts = details.get("prompts") or {}
    available = sorted(v for v in scores if v != CURRENT and v in prompts)
    if CURRENT not in scores or CURRENT not in prompts or not available:
        raise PromptBundleError(f"training run {run_id} has no scored variants")
    if variant is None or not str(variant).strip():
        return best_variant({v: scores[v] for v in [CURRENT, *available]})
    name = str(variant).strip()
    if name not in available:
        raise PromptBundleError(f"unknown variant {name!r} of training run {run_id} (expected one of {', '.join(available)})")
    return name


def prompt_bundle(
    *,
    agent: str,
    training_run_id: str,
    details: Mapping[str, Any],
    variant: str | None,
    at: datetime,
    base: TrainedBundle | None,
) -> TrainedBundle:
    """The prompt bundle of a `pending_review` prompt-optimization run's `details` (see module doc).

    `base`: the agent's stable bundle (its thresholds, features and model are kept)."""
    if base is not None and base.agent != agent:
        raise PromptBundleError(f"base bundle {base.bundle_id} belongs to {base.agent}, not {agent}")
    name = choose_variant(details, variant, training_run_id)
    scores, prompts = details["scores"], details["prompts"]
    text = prompts[name]
    if not isinstance(text, str) or not text.strip():
        raise PromptBundleError(f"variant {name} of training run {training_run_id} has an empty prompt")
    f1 = _f1(scores, name, training_run_id)
    _f1(scores, CURRENT, training_run_id)  # the current prompt must have been scored too (the delta needs it)
    held_out = [str(x) for x in details.get("held_out_example_ids") or []]
    n_scored = int(scores[name].get("n") or len(held_out))
    n = len(details.get("train_example_ids") or []) + len(held_out) or n_scored
    snapshot: dict[str, Any] = {
        "kind": PROMPT_MODEL_TYPE,
        "agent": agent,
        "created_at": utc_naive(at).isoformat(),
        "system_prompt": text,
        "variant": name,
        "training_run_id": training_run_id,
        "training_run_as_of": details.get("as_of"),
        "model": details.get("model"),
        "current_prompt": prompts[CURRENT],
        "scores": dict(scores[name]),
        "current_scores": dict(scores[CURRENT]),
        "vs_current": dict((details.get("vs_current") or {}).get(name) or {}),
        "accuracy_metric": ACCURACY_METRIC,
        "held_out_example_ids": held_out,
        "n_scored": n_scored,
        "base_bundle_id": base.bundle_id if base is not None else None,
        "features": list(base.features) if base is not None else [],
    }
    return TrainedBundle(
        bundle_id=prompt_bundle_id(agent, at),
        agent=agent,
        model_type=PROMPT_MODEL_TYPE,
        training_count=n,
        accuracy=_round(f1),
        thresholds=dict(base.thresholds) if base is not None else {},
        features=tuple(base.features) if base is not None else (),
        model=base.model if base is not None else None,
        holdout_ids=tuple(held_out),
        snapshot=snapshot,
        source=PROMPT_SOURCE,
        base_bundle_id=base.bundle_id if base is not None else None,
    )


def accuracy_delta(bundle: TrainedBundle) -> float:
    """Variant token-F1 − current-prompt token-F1, as measured in the bundle's training run."""
    snap = bundle.snapshot
    run_id = str(snap.get("training_run_id"))
    return _round(_f1({"v": snap.get("scores")}, "v", run_id) - _f1({"c": snap.get("current_scores")}, "c", run_id))


def prompt_diff(candidate: TrainedBundle, stable: TrainedBundle | None) -> dict[str, Any]:
    """SPEC §10 diff of a prompt bundle against the agent's stable bundle (see module doc)."""
    if not is_prompt_bundle(candidate):
        raise PromptBundleError(f"bundle {candidate.bundle_id} is not a prompt bundle")
    changes = [{"param": PROMPT_PARAM, "old": candidate.snapshot.get("current_prompt"),
                "new": candidate.snapshot.get("system_prompt"), "delta": None}]
    old_thresholds = stable.thresholds if stable is not None else {}
    for param in sorted(set(candidate.thresholds) | set(old_thresholds)):
        old, new = old_thresholds.get(param), candidate.thresholds.get(param)
        if old == new:
            continue
        delta = _round(new - old) if old is not None and new is not None else None
        changes.append({"param": param, "old": old, "new": new, "delta": delta})
    changes.sort(key=lambda c: c["param"])
    return {"changes": changes, "accuracy_delta": accuracy_delta(candidate)}


def prompt_reverted_change(candidate: TrainedBundle, stable: TrainedBundle | None) -> dict[str, Any] | None:
    """For a non-prompt bundle compared with a stable *prompt* bundle: the `system_prompt` change
    its deployment makes (back to the configured prompt, `new` None); None otherwise."""
    if is_prompt_bundle(candidate) or not is_prompt_bundle(stable):
        return None
    return {"param": PROMPT_PARAM, "old": system_prompt_of(stable), "new": None, "delta": None}


__all__ = [
    "ACCURACY_METRIC", "PROMPT_MODEL_TYPE", "PROMPT_PARAM", "PROMPT_SOURCE", "PromptBundleError", "TRAINING_RUN_KIND",
    "VARIANTS", "accuracy_delta", "choose_variant", "is_prompt_bundle", "prompt_bundle", "prompt_bundle_id",
    "prompt_diff", "prompt_reverted_change", "system_prompt_of",
]
