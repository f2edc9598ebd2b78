"""Hand-edited bundles (`bundles upload FILE`, SPEC §10; runbook "Manual Bundle Edit").

The file is `{"agent": A, "thresholds": {param: number}}`, nothing else.
`validate_uploaded_bundle` checks it; `manual_bundle` turns it into a bundle
with `source` "manual".

**How a manual bundle is measured.** A manual bundle is an edit of a *base*
bundle (the caller passes the one it was edited from; normally the agent's
stable bundle at upload time). Its thresholds are the base's with the
uploaded values on top. Its model is the base's fitted pipeline with the
edits applied where the model has them: the cut-off is always
`decision_threshold`; for a logistic base each `<feature>_weight` replaces
that feature's coefficient (on the standardised feature, the same scale the
trainer reports); a tree's `<feature>_importance` describes the tree and is
not applied (editing it changes nothing the model does). Its `accuracy` is
measured on the base's held-out examples, and it keeps the base's
`training_count` and held-out ids, so `diff` against the base compares both
on the same examples. Without a base (or a base without a model) the bundle
has no model: `model_type` "manual", `accuracy`, `training_count` and the
diff's `accuracy_delta` are None, so an approval can only recommend "review"
or "reject".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from learning_loop.domain.active_learning.agents import AgentBounds
from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.training import (
    TrainedBundle,
    accuracy_on,
    dump_model,
    holdout_examples,
    load_model,
)
from learning_loop.domain.validation import AGENT_PATTERN

UPLOAD_KEYS = frozenset({"agent", "thresholds"})


class BundleUploadError(ValueError):
    """An uploaded bundle file is invalid (one line)."""


def parse_upload(doc: object) -> tuple[str, dict[str, float]]:
    """Shape checks only: a mapping with exactly `agent` (a valid name) and `thresholds`
    (a non-empty mapping of parameter name to finite number). Returns (agent, thresholds)."""
    if not isinstance(doc, Mapping):
        raise BundleUploadError(f"bundle file must be a JSON object, got {type(doc).__name__}")
    missing = sorted(UPLOAD_KEYS - set(doc))
    if missing:
        raise BundleUploadError(f"bundle file is missing key(s): {', '.join(missing)}")
    extra = sorted(str(k) for k in set(doc) - UPLOAD_KEYS)
    if extra:
        raise BundleUploadError(f"bundle file has unknown key(s): {', '.join(extra)} (expected agent, thresholds)")
    agent = doc["agent"]
    if not isinstance(agent, str) or AGENT_PATTERN.fullmatch(agent) is None:
        raise BundleUploadError(f"invalid agent name {agent!r} (expected [a-z][a-z0-9_]*)")
    raw = doc["thresholds"]
    if not isinstance(raw, Mapping) or not raw:
        raise BundleUploadError("thresholds must be a non-empty object of parameter: number")
    thresholds: dict[str, float] = {}
    for param, value in raw.items():
        if not isinstance(param, str) or not param.strip():
            raise BundleUploadError(f"threshold name must be a non-empty string, got {param!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BundleUploadError(f"threshold {param} must be a finite number, got {value!r}")
        thresholds[param] = float(value)
    return agent, thresholds


def validate_uploaded_bundle(
    doc: object,
    known_agents: Set[str],
    known_params: Set[str] | None,
    bounds: AgentBounds,
) -> tuple[str, dict[str, float]]:
    """Validate an uploaded bundle document for one agent; returns (agent, thresholds).

    `known_params`: the parameters the agent's bundles have (e.g. its stable bundle's thresholds);
    None when unknown (no bundle yet), then any name is accepted. `bounds`: the agent's bounds
    (call `parse_upload` first to learn which agent's configuration to load).
    Raises `BundleUploadError`."""
    agent, thresholds = parse_upload(doc)
    if agent not in known_agents:
        raise BundleUploadError(f"unknown agent {agent!r}")
    if known_params is not None:
        unknown = sorted(set(thresholds) - set(known_params))
        if unknown:
            raise BundleUploadError(
                f"unknown parameter(s) for {agent}: {', '.join(unknown)} (known: {', '.join(sorted(known_params))})"
            )
    problems = bounds.violations(thresholds)
    if problems:
        raise BundleUploadError(f"threshold out of bounds for {agent}: {'; '.join(problems)}")
    return agent, thresholds


def manual_bundle_id(agent: str, at: datetime) -> str:
    """`<agent>_<YYYYMMDD>_<HHMMSS>_manual` of the upload time (UTC); the suffix keeps it apart
    from a bundle trained for the same second."""
    return f"{agent}_{utc_naive(at):%Y%m%d_%H%M%S}_manual"


def manual_bundle(
    agent: str,
    thresholds: Mapping[str, float],
    at: datetime,
    base: TrainedBundle | None = None,
    *,
    bundle_id: str | None = None,
) -> TrainedBundle:
    """The manual bundle of an upload (see the module doc for how it is measured)."""
    if base is not None and base.agent != agent:
        raise BundleUploadError(f"base bundle {base.bundle_id} belongs to {base.agent}, not {agent}")
    merged = {**(base.thresholds if base is not None else {}), **{k: float(v) for k, v in thresholds.items()}}
    snapshot: dict[str, Any] = {
        "agent": agent,
        "edited_at": utc_naive(at).isoformat(),
        "base_bundle_id": base.bundle_id if base is not None else None,
        "uploaded_thresholds": dict(thresholds),
    }
    bundle_id = bundle_id or manual_bundle_id(agent, at)
    if base is None or base.model is None:
        return TrainedBundle(
            bundle_id=bundle_id,
            agent=agent,
            model_type="manual",
            training_count=None,
            accuracy=None,
            thresholds=merged,
            features=(),
            model=None,
            holdout_ids=(),
            snapshot=snapshot,
            source="manual",
            base_bundle_id=base.bundle_id if base is not None else None,
        )
    pipeline = load_model(base.model)
    if base.model_type == "logistic":
        classifier = pipeline.named_steps["model"]
        classifier.coef_ = np.array(
            [[merged.get(f"{f}_weight", float(w)) for f, w in zip(base.features, classifier.coef_[0])]]
        )
    holdout = holdout_examples(base)
    snapshot.update(
        features=list(base.features),
        examples=[row for row in base.snapshot.get("examples", []) if row.get("holdout")],
    )
    bundle = TrainedBundle(
        bundle_id=bundle_id,
        agent=agent,
        model_type=base.model_type,
        training_count=base.training_count,
        accuracy=None,
        thresholds=merged,
        features=base.features,
        model=dump_model(pipeline),
        holdout_ids=base.holdout_ids,
        snapshot=snapshot,
        source="manual",
        base_bundle_id=base.bundle_id,
    )
    return replace(bundle, accuracy=accuracy_on(bundle, holdout))
