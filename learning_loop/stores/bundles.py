"""Bundles (SPEC §10) in the `bundles` table: train, upload, read, compare.

A bundle row holds the SPEC fields for quick views and `record`, the JSON of
the whole `TrainedBundle` (pickled model, held-out ids, the snapshot that
reproduces it). `train`, `upload` and `create_prompt_bundle` write the row and
its audit row (`bundle_created`, `bundle_uploaded`, `bundle_created` with kind
prompt) in the caller's transaction; bundles never change once written (a
bundle id is never reused). Prompt bundles: `domain.active_learning.prompt_bundles`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from learning_loop.domain.active_learning.bundles import BundleUploadError, manual_bundle, parse_upload, validate_uploaded_bundle
from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.prompt_bundles import (
    TRAINING_RUN_KIND,
    PromptBundleError,
    is_prompt_bundle,
    prompt_bundle,
    prompt_diff,
    prompt_reverted_change,
    system_prompt_of,
)
from learning_loop.domain.active_learning.training import (
    DEFAULT_MIN_EXAMPLES,
    MODEL_TYPES,
    InsufficientExamplesError,
    TrainedBundle,
    TrainingError,
    bundle_id_for,
    diff_bundles,
    select_examples,
    train_bundle,
)
from learning_loop.domain.validation import AGENT_PATTERN, expand_features
from learning_loop.stores import audit
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import training_runs
from learning_loop.stores.agents import agent_config, known_agents
from learning_loop.warehouse.backend import Transaction, Warehouse

Source = Transaction | Warehouse


class UnknownBundle(ValueError):
    """No bundle with that id (or it belongs to another agent)."""


class DuplicateBundle(ValueError):
    """A bundle with that id exists already; bundles are never overwritten."""


def _naive(value: datetime) -> datetime:
    return utc_naive(value).to_pydatetime()


# ---------------------------------------------------------------------------------------------- labels


def labels_of(source: Source, agent: str, as_of: datetime) -> pd.DataFrame:
    """The agent's label rows labeled before as_of, features expanded to `f_` columns."""
    frame = source.query_df(
        "SELECT agent, example_id, source, label, labeled_at, features, confidence FROM labels "
        "WHERE agent = :agent AND labeled_at < :as_of",
        {"agent": agent, "as_of": _naive(as_of)},
    )
    return expand_features(frame)


def example_count(source: Source, agent: str, as_of: datetime, min_confidence: float | None = None) -> int:
    """How many examples training as of `as_of` would use (SPEC §10's number compared with --min-examples)."""
    labels = labels_of(source, agent, as_of)
    if labels.empty:
        return 0
    return len(select_examples(labels, agent=agent, as_of=_naive(as_of), min_confidence=min_confidence))


def agents_with_labels(source: Source) -> list[str]:
    frame = source.query_df("SELECT DISTINCT agent FROM labels ORDER BY agent")
    return [str(a) for a in frame["agent"].dropna()]


def last_trained_at(source: Source, agent: str, before: datetime | None = None) -> datetime | None:
    """When the agent's newest trained bundle (before `before`) was trained (its as_of)."""
    params: dict[str, Any] = {"agent": agent}
    where = ""
    if before is not None:
        where = " AND created_at < :before"
        params["before"] = _naive(before)
    value = source.scalar(
        f"SELECT max(created_at) FROM bundles WHERE agent = :agent AND source = 'trained'{where}", params
    )
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def new_label_count(source: Source, agent: str, since: datetime | None, as_of: datetime) -> int:
    """Label rows of the agent labeled in [since, as_of) (all before as_of when since is None)."""
    params: dict[str, Any] = {"agent": agent, "as_of": _naive(as_of)}
    where = ""
    if since is not None:
        where = " AND labeled_at >= :since"
        params["since"] = _naive(since)
    return int(source.scalar(f"SELECT count(*) FROM labels WHERE agent = :agent AND labeled_at < :as_of{where}", params))


# ---------------------------------------------------------------------------------------------- bundle rows


def load(source: Source, bundle_id: str) -> TrainedBundle | None:
    frame = source.query_df("SELECT record FROM bundles WHERE bundle_id = :b", {"b": bundle_id})
    if frame.empty:
        return None
    return TrainedBundle.from_record(json.loads(frame["record"].iat[0]))


def require(source: Source, bundle_id: str, agent: str | None = None) -> TrainedBundle:
    """The bundle, or `UnknownBundle` (also when it belongs to another agent than `agent`)."""
    bundle = load(source, bundle_id)
    if bundle is None:
        raise UnknownBundle(f"unknown bundle {bundle_id!r}")
    if agent is not None and bundle.agent != agent:
        raise UnknownBundle(f"bundle {bundle_id} belongs to agent {bundle.agent}, not {agent}")
    return bundle


def row(source: Source, bundle_id: str) -> dict[str, Any] | None:
    """The stored columns of a bundle (without `record`), JSON-ready."""
    frame = source.query_df(
        "SELECT bundle_id, agent, model_type, source, training_count, accuracy, thresholds, base_bundle_id, "
        "created_at, created_by, ran_as FROM bundles WHERE bundle_id = :b",
        {"b": bundle_id},
    )
    if frame.empty:
        return None
    values = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    values["thresholds"] = json.loads(values["thresholds"] or "{}")
    values["training_count"] = None if values["training_count"] is None else int(values["training_count"])
    values["accuracy"] = None if values["accuracy"] is None else float(values["accuracy"])
    values["created_at"] = pd.Timestamp(values["created_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    return values


def created_at(source: Source, bundle_id: str) -> datetime | None:
    value = source.scalar("SELECT created_at FROM bundles WHERE bundle_id = :b", {"b": bundle_id})
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def stable(source: Source, agent: str) -> TrainedBundle | None:
    """The agent's stable bundle (None before its first bundle became stable)."""
    dep = canary_store.load(source, agent)
    return load(source, dep.stable_bundle_id) if dep.stable_bundle_id else None


def threshold_base(source: Source, agent: str) -> TrainedBundle | None:
    """The bundle whose thresholds and model are in force: the stable bundle, or, when that is a
    prompt bundle, the (non-prompt) bundle it was built on (None when there is none)."""
    bundle, seen = stable(source, agent), set()
    while is_prompt_bundle(bundle) and bundle.base_bundle_id and bundle.bundle_id not in seen:  # type: ignore[union-attr]
        seen.add(bundle.bundle_id)  # type: ignore[union-attr]
        bundle = load(source, bundle.base_bundle_id)  # type: ignore[union-attr]
    return None if is_prompt_bundle(bundle) else bundle


def save(tx: Transaction, bundle: TrainedBundle, *, at: datetime, created_by: str, ran_as: str) -> None:
    """Insert the bundle row; refuses an existing bundle id."""
    if tx.scalar("SELECT count(*) FROM bundles WHERE bundle_id = :b", {"b": bundle.bundle_id}):
        raise DuplicateBundle(f"bundle {bundle.bundle_id} already exists; bundles are never overwritten")
    tx.insert_df(
        "bundles",
        pd.DataFrame(
            [
                {
                    "bundle_id": bundle.bundle_id,
                    "agent": bundle.agent,
                    "model_type": bundle.model_type,
                    "source": bundle.source,
                    "training_count": bundle.training_count,
                    "accuracy": bundle.accuracy,
                    "thresholds": json.dumps(bundle.thresholds, sort_keys=True),
                    "record": json.dumps(bundle.to_record(), sort_keys=True),
                    "base_bundle_id": bundle.base_bundle_id,
                    "created_at": _naive(at),
                    "created_by": created_by,
                    "ran_as": ran_as,
                }
            ]
        ),
    )


# ---------------------------------------------------------------------------------------------- train


def check_train(
    source: Source, *, agent: str, as_of: datetime, min_examples: int = DEFAULT_MIN_EXAMPLES,
    min_confidence: float | None = None, model_type: str = "logistic",
) -> None:
    """Everything `train` would refuse, checked without training: model type, min examples, id reuse."""
    if model_type not in MODEL_TYPES:
        raise TrainingError(f"unknown model type {model_type!r} (expected logistic or tree)")
    if AGENT_PATTERN.fullmatch(agent or "") is None:
        raise TrainingError(f"invalid agent name {agent!r} (expected [a-z][a-z0-9_]*)")
    if min_examples < 1:
        raise TrainingError(f"--min-examples must be at least 1, got {min_examples}")
    if min_confidence is not None and not 0 <= min_confidence <= 100:
        raise TrainingError(f"--min-confidence must be between 0 and 100, got {min_confidence:g}")
    n = example_count(source, agent, as_of, min_confidence)
    if n < min_examples:
        what = "labeled examples" if min_confidence is None else f"labeled examples with confidence >= {min_confidence:g}"
        raise InsufficientExamplesError(f"{agent} has {n} {what}, fewer than --min-examples {min_examples}")
    bundle_id = bundle_id_for(agent, as_of)
    if source.scalar("SELECT count(*) FROM bundles WHERE bundle_id = :b", {"b": bundle_id}):
        raise DuplicateBundle(f"bundle {bundle_id} already exists; bundles are never overwritten")


def train(
    tx: Transaction,
    *,
    agent: str,
    as_of: datetime,
    model_type: str = "logistic",
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    min_confidence: float | None = None,
    seed: int = 0,
    actor: str,
    ran_as: str,
    run_id: str | None = None,
) -> TrainedBundle:
    """Train the agent's bundle as of `as_of`, store it and log `bundle_created`, in the caller's transaction."""
    bundle = train_bundle(
        labels_of(tx, agent, as_of),
        agent=agent,
        as_of=_naive(as_of),
        model_type=model_type,  # type: ignore[arg-type]
        min_examples=min_examples,
        min_confidence=min_confidence,
        seed=seed,
    )
    save(tx, bundle, at=as_of, created_by=actor, ran_as=ran_as)
    audit.append(
        tx, at=as_of, agent=agent, action="bundle_created", actor=actor, ran_as=ran_as, run_id=run_id,
        details={"bundle_id": bundle.bundle_id, "model_type": bundle.model_type,
                 "training_count": bundle.training_count, "accuracy": bundle.accuracy,
                 "min_examples": min_examples, "min_confidence": min_confidence, "seed": seed},
    )
    return bundle


# ---------------------------------------------------------------------------------------------- upload


def read_upload_file(path: str | Path) -> object:
    """The JSON document of an upload file; a missing or non-JSON file raises `BundleUploadError`."""
    file = Path(path)
    if not file.is_file():
        raise BundleUploadError(f"bundle file not found: {path}")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleUploadError(f"bundle file {path} is not valid JSON: {str(exc).splitlines()[0]}") from None


def prepare_upload(
    source: Source, doc: object, *, home: str | Path, at: datetime
) -> TrainedBundle:
    """Validate an uploaded document (domain.bundles) and build the manual bundle, without writing.

    The base is the agent's stable bundle (if any); its parameters are the known ones."""
    agent, _ = parse_upload(doc)
    known = known_agents(source, home)
    if agent not in known:
        raise BundleUploadError(f"unknown agent {agent!r} (no labels, bundles or agents/{agent}.yaml)")
    base = threshold_base(source, agent)  # the stable bundle; under a stable prompt bundle, the bundle it was built on
    config = agent_config(home, agent)
    known_params = set(base.thresholds) if base is not None else None
    agent, thresholds = validate_uploaded_bundle(doc, known, known_params, config.bounds)
    bundle = manual_bundle(agent, thresholds, _naive(at), base)
    if source.scalar("SELECT count(*) FROM bundles WHERE bundle_id = :b", {"b": bundle.bundle_id}):
        raise DuplicateBundle(f"bundle {bundle.bundle_id} already exists; bundles are never overwritten")
    return bundle


def upload(
    tx: Transaction, doc: object, *, home: str | Path, at: datetime, actor: str, ran_as: str, run_id: str | None = None
) -> TrainedBundle:
    """Store a validated hand-edited bundle (`source` manual) and log `bundle_uploaded`."""
    bundle = prepare_upload(tx, doc, home=home, at=at)
    save(tx, bundle, at=at, created_by=actor, ran_as=ran_as)
    audit.append(
        tx, at=at, agent=bundle.agent, action="bundle_uploaded", actor=actor, ran_as=ran_as, run_id=run_id,
        details={"bundle_id": bundle.bundle_id, "base_bundle_id": bundle.base_bundle_id,
                 "thresholds": dict(doc["thresholds"]) if isinstance(doc, Mapping) else None,
                 "accuracy": bundle.accuracy},
    )
    return bundle


# ---------------------------------------------------------------------------------------------- compare


def diff(source: Source, bundle: TrainedBundle) -> dict[str, Any]:
    """SPEC §10 diff of a bundle against its agent's stable bundle, on the bundle's held-out examples.

    A prompt bundle: `prompt_diff` (the `system_prompt` change; accuracy_delta = token-F1 of the
    variant − the current prompt's, from its training run). Another bundle while a prompt bundle is
    stable: compared with the bundle that prompt bundle was built on, plus a `system_prompt` change
    (new None: its deployment goes back to the configured prompt)."""
    current = stable(source, bundle.agent)
    if is_prompt_bundle(bundle):
        return prompt_diff(bundle, current)
    reverted = prompt_reverted_change(bundle, current)
    if reverted is None:
        return diff_bundles(bundle, current)
    result = diff_bundles(bundle, threshold_base(source, bundle.agent))
    result["changes"] = sorted([*result["changes"], reverted], key=lambda c: c["param"])
    return result


# ---------------------------------------------------------------------------------------------- prompt bundles


class UnknownTrainingRun(ValueError):
    """No training run with that (Dagster) run id."""


def prompt_training_run(source: Source, training_run_id: str, agent: str | None = None) -> dict[str, Any]:
    """The `pending_review` prompt-optimization training run recorded by run `training_run_id`
    (for `agent` when the run covered several agents); a one-line ValueError otherwise."""
    rows = training_runs.of_run(source, training_run_id)
    if not rows:
        raise UnknownTrainingRun(f"unknown training run {training_run_id!r}")
    kinds = sorted({str(r["kind"]) for r in rows})
    if TRAINING_RUN_KIND not in kinds:
        raise PromptBundleError(f"training run {training_run_id} is {', '.join(kinds)}, not {TRAINING_RUN_KIND}")
    rows = [r for r in rows if r["kind"] == TRAINING_RUN_KIND]
    if agent:
        if agent not in {r["agent"] for r in rows}:
            agents = ", ".join(sorted(str(r["agent"]) for r in rows if r["agent"])) or "none"
            raise PromptBundleError(f"training run {training_run_id} has no row for agent {agent} (agents: {agents})")
        rows = [r for r in rows if r["agent"] == agent]
    pending = [r for r in rows if r["status"] == "pending_review"]
    if not pending:
        r = rows[0]
        who = f" for {r['agent']}" if r["agent"] else ""
        raise PromptBundleError(
            f"training run {training_run_id}{who} is {r['status']}, not pending_review"
            + (f" ({r['reason']})" if r["reason"] else "")
        )
    agents = sorted({str(r["agent"]) for r in pending})
    if len(agents) > 1:
        raise PromptBundleError(
            f"training run {training_run_id} has results for several agents ({', '.join(agents)}); choose one with --agent"
        )
    if len(pending) > 1:
        raise PromptBundleError(
            f"training run {training_run_id} has {len(pending)} pending_review rows for {agents[0]} "
            "(a retried step); run prompt optimization again"
        )
    return pending[0]


def prepare_prompt_bundle(
    source: Source, *, training_run_id: str, agent: str | None = None, variant: str | None = None, at: datetime
) -> TrainedBundle:
    """The prompt bundle of a training run's variant (default: its best by token-F1), checked, not written.

    Its base is the agent's stable bundle. Refused when the stable bundle is a prompt bundle whose
    prompt is not the one the run measured as `current` (the diff would not be fair)."""
    run = prompt_training_run(source, training_run_id, agent)
    agent = str(run["agent"])
    if _naive(at) < _naive(run["created_at"]):
        raise PromptBundleError(
            f"--as-of {_naive(at).isoformat()}Z is before training run {training_run_id} "
            f"({_naive(run['created_at']).isoformat()}Z)"
        )
    base = stable(source, agent)
    current = (run["details"].get("prompts") or {}).get("current")
    if is_prompt_bundle(base) and system_prompt_of(base) != current:
        raise PromptBundleError(
            f"training run {training_run_id} scored its variants against another prompt than the stable prompt "
            f"bundle {base.bundle_id} of {agent}; set that prompt in agents/{agent}.yaml and run prompt "  # type: ignore[union-attr]
            "optimization again"
        )
    bundle = prompt_bundle(agent=agent, training_run_id=training_run_id, details=run["details"], variant=variant,
                           at=_naive(at), base=base)
    if source.scalar("SELECT count(*) FROM bundles WHERE bundle_id = :b", {"b": bundle.bundle_id}):
        raise DuplicateBundle(f"bundle {bundle.bundle_id} already exists; bundles are never overwritten")
    return bundle


def create_prompt_bundle(
    tx: Transaction, *, training_run_id: str, agent: str | None = None, variant: str | None = None, at: datetime,
    actor: str, ran_as: str, run_id: str | None = None,
) -> TrainedBundle:
    """Store the prompt bundle of a training run's variant and log `bundle_created` (kind prompt)."""
    bundle = prepare_prompt_bundle(tx, training_run_id=training_run_id, agent=agent, variant=variant, at=at)
    save(tx, bundle, at=at, created_by=actor, ran_as=ran_as)
    snap = bundle.snapshot
    audit.append(
        tx, at=at, agent=bundle.agent, action="bundle_created", actor=actor, ran_as=ran_as, run_id=run_id,
        details={"kind": "prompt", "bundle_id": bundle.bundle_id, "model_type": bundle.model_type,
                 "training_run_id": training_run_id, "variant": snap["variant"],
                 "training_count": bundle.training_count, "accuracy": bundle.accuracy,
                 "accuracy_metric": snap["accuracy_metric"], "base_bundle_id": bundle.base_bundle_id},
    )
    return bundle
