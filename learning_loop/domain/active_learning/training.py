"""Training a bundle (SPEC §10) and the fair comparison of two bundles.

**Data.** The agent's examples labeled before `as_of` (labels resolved by
source precedence, see `examples.resolve_examples`), optionally only labels
with `confidence >= min_confidence` (a label without a confidence is then
left out; low-confidence labels are dropped *before* resolving, so a weaker
source can take over). Fewer than `min_examples` → `InsufficientExamplesError`.
`training_count` is this number of examples (training part + held-out part),
the number compared with `--min-examples`.

**Split.** Examples sorted by (`labeled_at`, `example_id`); the newest
`ceil(20 %)` are held out and only used for `accuracy`; the model is fitted
on the rest and never refitted on the held-out part, so the diff can measure
it fairly there.

**Features.** Every `f_<name>` column with at least one value in the training
part, sorted by name; missing values are imputed with the training median
(`SimpleImputer`), so the model can score rows with missing features.

**Models.** `logistic`: median imputer → `StandardScaler` →
`LogisticRegression` (L2, C=1); thresholds get `<feature>_weight`, the
coefficient on the standardised feature. `tree`: median imputer →
`DecisionTreeClassifier(max_depth=4, min_samples_leaf=5)` (a single shallow
tree, chosen over gradient boosting because it has per-feature importances in
[0, 1] that sum to 1 and is easy to read); thresholds get
`<feature>_importance`.

**Probability cut-off.** `decision_threshold` is chosen on the training part
by `TunedThresholdClassifierCV` with `balanced_accuracy` (both kinds of
error weigh the same per class, so a rare label is not ignored), stratified
K-fold with K = min(5, size of the smaller class), shuffled with `seed`,
over the candidate cut-offs 0.05, 0.075, …, 0.95 (so a trained cut-off is
a tidy number inside the default bounds, and tuning stays fast).
When the smaller class has fewer than 2 members, CV is impossible and the
cut-off is 0.5. A row is predicted 1 when P(label=1) >= the cut-off.

**Serialisation.** The fitted scikit-learn `Pipeline` is pickled (protocol
4) and base64-encoded into `model` (text). Only unpickle bundles this
platform wrote. `snapshot` holds everything needed to train the same bundle
again (`reproduce`): as_of, seed, parameters, feature names and every
example (id, label, source, labeled_at, confidence, feature values, held out
or not). Same examples + parameters + seed → identical bundle.

Numbers in `thresholds` and `accuracy` are rounded to 6 decimals.
"""

from __future__ import annotations

import base64
import math
import pickle
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from learning_loop.domain.active_learning.examples import resolve_examples, utc_naive
from learning_loop.domain.validation import AGENT_PATTERN, FEATURE_PREFIX, feature_columns, feature_name

ModelType = Literal["logistic", "tree"]
MODEL_TYPES: tuple[str, ...] = ("logistic", "tree")
HOLDOUT_FRACTION = 0.2
DEFAULT_MIN_EXAMPLES = 50
CV_SCORING = "balanced_accuracy"
MAX_CV_FOLDS = 5
FALLBACK_THRESHOLD = 0.5
#: Candidate probability cut-offs tried by cross-validation.
CUTOFF_GRID = np.round(np.linspace(0.05, 0.95, 37), 3)
TREE_MAX_DEPTH = 4
TREE_MIN_SAMPLES_LEAF = 5
DECIMALS = 6


class InsufficientExamplesError(ValueError):
    """Fewer labeled examples than `--min-examples`; the message names both numbers."""


class TrainingError(ValueError):
    """The examples cannot train a bundle (one label value only, no features, bad parameters)."""


@dataclass(frozen=True)
class TrainedBundle:
    """A bundle: trained (`source` "trained") or hand-edited (`source` "manual", see `bundles`).

    `features` are the feature names (without `f_`) in the model's column order; `model` is the
    base64 pickled pipeline (None for a manual bundle without a base model); `accuracy` is measured
    on the examples in `holdout_ids` (None without a model)."""

    bundle_id: str
    agent: str
    model_type: str  # logistic | tree | manual (manual bundle without a base model)
    training_count: int | None
    accuracy: float | None
    thresholds: dict[str, float]
    features: tuple[str, ...]
    model: str | None
    holdout_ids: tuple[str, ...]
    snapshot: dict[str, Any] = field(default_factory=dict)
    source: str = "trained"
    base_bundle_id: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """Exactly the `bundles create --json` document (SPEC §10)."""
        return {
            "bundle_id": self.bundle_id,
            "agent": self.agent,
            "model_type": self.model_type,
            "training_count": self.training_count,
            "accuracy": self.accuracy,
            "thresholds": dict(self.thresholds),
        }

    def to_record(self) -> dict[str, Any]:
        """Every field as plain JSON-able Python (lists for tuples), for storage."""
        record = asdict(self)
        record["features"] = list(self.features)
        record["holdout_ids"] = list(self.holdout_ids)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "TrainedBundle":
        """Inverse of `to_record` (unknown keys are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in record.items() if k in known}
        values["features"] = tuple(values.get("features") or ())
        values["holdout_ids"] = tuple(values.get("holdout_ids") or ())
        values["thresholds"] = {k: float(v) for k, v in (values.get("thresholds") or {}).items()}
        values["snapshot"] = dict(values.get("snapshot") or {})
        return cls(**values)


def bundle_id_for(agent: str, as_of) -> str:
    """`<agent>_<YYYYMMDD>_<HHMMSS>` of as_of in UTC."""
    return f"{agent}_{utc_naive(as_of):%Y%m%d_%H%M%S}"


def _round(value: float) -> float:
    rounded = round(float(value), DECIMALS)
    return 0.0 if rounded == 0 else rounded  # no -0.0


def dump_model(pipeline: Pipeline) -> str:
    return base64.b64encode(pickle.dumps(pipeline, protocol=4)).decode("ascii")


def load_model(model: str) -> Pipeline:
    """The fitted pipeline of a bundle's `model` text (only for bundles this platform wrote)."""
    return pickle.loads(base64.b64decode(model.encode("ascii")))


def _matrix(examples: pd.DataFrame, features: tuple[str, ...] | list[str]) -> np.ndarray:
    columns = [FEATURE_PREFIX + f for f in features]
    return examples.reindex(columns=columns).astype("float64").to_numpy()


def _pipeline(model_type: str, seed: int) -> Pipeline:
    if model_type == "logistic":
        classifier = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
        return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("model", classifier)])
    classifier = DecisionTreeClassifier(
        max_depth=TREE_MAX_DEPTH, min_samples_leaf=TREE_MIN_SAMPLES_LEAF, random_state=seed
    )
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("model", classifier)])


def select_examples(
    labels: pd.DataFrame, *, agent: str, as_of, min_confidence: float | None = None
) -> pd.DataFrame:
    """The agent's resolved examples before as_of (see module doc), oldest first, ties by example_id."""
    frame = labels.loc[labels["agent"] == agent]
    if min_confidence is not None:
        confidence = pd.to_numeric(frame.get("confidence"), errors="coerce")
        frame = frame.loc[confidence.notna() & (confidence >= min_confidence)]
    examples = resolve_examples(frame, as_of)
    if examples.empty:
        return examples
    return examples.sort_values(["labeled_at", "example_id"], kind="mergesort").reset_index(drop=True)


def train_bundle(
    labels: pd.DataFrame,
    *,
    agent: str,
    as_of,
    model_type: ModelType = "logistic",
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    min_confidence: float | None = None,
    seed: int = 0,
) -> TrainedBundle:
    """Train the agent's bundle as of `as_of` (see the module doc for every rule).

    `labels` may be label rows or already-resolved examples, of any agents."""
    if model_type not in MODEL_TYPES:
        raise TrainingError(f"unknown model type {model_type!r} (expected logistic or tree)")
    if not isinstance(agent, str) or AGENT_PATTERN.fullmatch(agent) is None:
        raise TrainingError(f"invalid agent name {agent!r} (expected [a-z][a-z0-9_]*)")
    if min_examples < 1:
        raise TrainingError(f"--min-examples must be at least 1, got {min_examples}")
    as_of = utc_naive(as_of)
    examples = select_examples(labels, agent=agent, as_of=as_of, min_confidence=min_confidence)
    n = len(examples)
    if n < min_examples:
        what = "labeled examples" if min_confidence is None else f"labeled examples with confidence >= {min_confidence:g}"
        raise InsufficientExamplesError(f"{agent} has {n} {what}, fewer than --min-examples {min_examples}")

    n_holdout = math.ceil(n * HOLDOUT_FRACTION)
    train, holdout = examples.iloc[: n - n_holdout], examples.iloc[n - n_holdout :]
    features = tuple(
        feature_name(c) for c in sorted(feature_columns(train.columns)) if train[c].notna().any()
    )
    if not features:
        raise TrainingError(f"{agent} has no feature (f_ column) with a value in its training examples")
    y = train["label"].to_numpy(dtype="int64")
    counts = np.bincount(y, minlength=2)
    if counts.min() == 0:
        only = int(np.argmax(counts))
        raise TrainingError(
            f"all {len(y)} training examples of {agent} have label {only}; a bundle needs both 0 and 1"
        )

    x = _matrix(train, features)
    folds = int(min(MAX_CV_FOLDS, counts.min()))
    if folds >= 2:
        tuned = TunedThresholdClassifierCV(
            _pipeline(model_type, seed),
            scoring=CV_SCORING,
            response_method="predict_proba",
            thresholds=CUTOFF_GRID,
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
            refit=True,
            random_state=seed,
        ).fit(x, y)
        pipeline, cutoff = tuned.estimator_, float(tuned.best_threshold_)
    else:
        pipeline, cutoff = _pipeline(model_type, seed).fit(x, y), FALLBACK_THRESHOLD

    thresholds = {"decision_threshold": _round(cutoff)}
    classifier = pipeline.named_steps["model"]
    if model_type == "logistic":
        thresholds.update({f"{f}_weight": _round(w) for f, w in zip(features, classifier.coef_[0])})
    else:
        importances = np.nan_to_num(classifier.feature_importances_)
        thresholds.update({f"{f}_importance": _round(v) for f, v in zip(features, importances)})

    accuracy = _accuracy(pipeline, thresholds["decision_threshold"], features, holdout)
    snapshot = {
        "agent": agent,
        "as_of": as_of.isoformat(),
        "seed": seed,
        "params": {
            "model_type": model_type,
            "min_examples": min_examples,
            "min_confidence": min_confidence,
            "holdout_fraction": HOLDOUT_FRACTION,
            "cv_scoring": CV_SCORING,
            "cv_folds": folds if folds >= 2 else None,
        },
        "features": list(features),
        "examples": _snapshot_rows(train, features, False) + _snapshot_rows(holdout, features, True),
    }
    return TrainedBundle(
        bundle_id=bundle_id_for(agent, as_of),
        agent=agent,
        model_type=model_type,
        training_count=n,
        accuracy=accuracy,
        thresholds=thresholds,
        features=features,
        model=dump_model(pipeline),
        holdout_ids=tuple(holdout["example_id"].astype(str)),
        snapshot=snapshot,
    )


def _snapshot_rows(frame: pd.DataFrame, features: tuple[str, ...], held_out: bool) -> list[dict[str, Any]]:
    x = _matrix(frame, features)
    confidence = frame["confidence"] if "confidence" in frame.columns else pd.Series([None] * len(frame))
    rows = []
    for i, (example_id, label, source, labeled_at, conf) in enumerate(
        zip(frame["example_id"], frame["label"], frame["source"], frame["labeled_at"], confidence)
    ):
        rows.append(
            {
                "example_id": str(example_id),
                "label": int(label),
                "source": source,
                "labeled_at": pd.Timestamp(labeled_at).isoformat(),
                "confidence": None if conf is None or pd.isna(conf) else float(conf),
                "features": {f: float(v) for f, v in zip(features, x[i]) if not np.isnan(v)},
                "holdout": held_out,
            }
        )
    return rows


def snapshot_examples(snapshot: dict[str, Any], *, holdout_only: bool = False) -> pd.DataFrame:
    """The examples recorded in a bundle snapshot as a frame (agent, example_id, source, label,
    labeled_at, confidence, one float `f_` column per snapshot feature)."""
    rows = [r for r in snapshot.get("examples", []) if r.get("holdout") or not holdout_only]
    features = list(snapshot.get("features", []))
    frame = pd.DataFrame(
        {
            "agent": [snapshot.get("agent")] * len(rows),
            "example_id": [r["example_id"] for r in rows],
            "source": [r.get("source") for r in rows],
            "label": pd.Series([r["label"] for r in rows], dtype="int64"),
            "labeled_at": pd.to_datetime(pd.Series([r["labeled_at"] for r in rows], dtype=object)),
            "confidence": pd.Series([r.get("confidence") for r in rows], dtype="float64"),
        }
    )
    for name in features:
        frame[FEATURE_PREFIX + name] = pd.Series([r["features"].get(name) for r in rows], dtype="float64")
    return frame


def holdout_examples(bundle: TrainedBundle) -> pd.DataFrame:
    """The examples the bundle's `accuracy` was measured on (from its snapshot)."""
    return snapshot_examples(bundle.snapshot, holdout_only=True)


def reproduce(bundle: TrainedBundle) -> TrainedBundle:
    """Train again from a trained bundle's snapshot (same examples, parameters and seed)."""
    snap = bundle.snapshot
    params = snap["params"]
    return train_bundle(
        snapshot_examples(snap),
        agent=snap["agent"],
        as_of=snap["as_of"],
        model_type=params["model_type"],
        min_examples=params["min_examples"],
        min_confidence=None,  # the snapshot holds the examples after the confidence filter
        seed=snap["seed"],
    )


def _accuracy(pipeline: Pipeline, cutoff: float, features, examples: pd.DataFrame) -> float | None:
    if examples.empty:
        return None
    probabilities = pipeline.predict_proba(_matrix(examples, features))[:, 1]
    predicted = (probabilities >= cutoff).astype("int64")
    return _round(float(np.mean(predicted == examples["label"].to_numpy(dtype="int64"))))


def accuracy_on(bundle: TrainedBundle, examples: pd.DataFrame) -> float | None:
    """Share of `examples` whose label the bundle predicts right (P(1) >= decision_threshold);
    None when the bundle has no model or there are no examples. Features the examples lack
    count as missing (imputed)."""
    if bundle.model is None:
        return None
    cutoff = bundle.thresholds.get("decision_threshold", FALLBACK_THRESHOLD)
    return _accuracy(load_model(bundle.model), cutoff, bundle.features, examples)


def diff_bundles(
    candidate: TrainedBundle, stable: TrainedBundle | None, holdout: pd.DataFrame | None = None
) -> dict[str, Any]:
    """`{"changes": [{"param", "old", "new", "delta"}], "accuracy_delta"}` (SPEC §10).

    `changes`: every parameter of either bundle, sorted by name; old/new None when absent, delta =
    new - old when both are present (else None). `accuracy_delta` = accuracy(candidate) -
    accuracy(stable), both measured on the same examples: `holdout`, by default the candidate's
    held-out examples. None when there is no stable bundle, either bundle has no model, or there
    are no examples."""
    old_thresholds = stable.thresholds if stable is not None else {}
    changes = []
    for param in sorted(set(candidate.thresholds) | set(old_thresholds)):
        old, new = old_thresholds.get(param), candidate.thresholds.get(param)
        delta = _round(new - old) if old is not None and new is not None else None
        changes.append({"param": param, "old": old, "new": new, "delta": delta})
    examples = holdout_examples(candidate) if holdout is None else holdout
    new_accuracy = accuracy_on(candidate, examples)
    old_accuracy = accuracy_on(stable, examples) if stable is not None else None
    accuracy_delta = (
        _round(new_accuracy - old_accuracy) if new_accuracy is not None and old_accuracy is not None else None
    )
    return {"changes": changes, "accuracy_delta": accuracy_delta}
