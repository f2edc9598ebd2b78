"""Landing rules of the active-learning kinds (SPEC §9), re-exported from `learning_loop.domain.validation`.

The rules live next to the videos/metrics rules so ingestion dispatches by kind
through the same mappings (`REQUIRED_COLUMNS`, `KNOWN_COLUMNS`, `KEY_COLUMNS`,
`ROW_VALIDATORS`).
"""

from learning_loop.domain.validation import (
    AGENT_PATTERN,
    DECISION_REQUIRED,
    FEATURE_PREFIX,
    JUDGMENT_REQUIRED,
    LABEL_REQUIRED,
    LABEL_SOURCES,
    Validated,
    expand_features,
    feature_columns,
    feature_name,
    features_json,
    validate_decisions,
    validate_judgments,
    validate_labels,
)

ACTIVE_KINDS = ("labels", "judgments", "decisions")

__all__ = [
    "ACTIVE_KINDS",
    "AGENT_PATTERN",
    "DECISION_REQUIRED",
    "FEATURE_PREFIX",
    "JUDGMENT_REQUIRED",
    "LABEL_REQUIRED",
    "LABEL_SOURCES",
    "Validated",
    "expand_features",
    "feature_columns",
    "feature_name",
    "features_json",
    "validate_decisions",
    "validate_judgments",
    "validate_labels",
]
