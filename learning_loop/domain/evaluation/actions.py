"""What one logged round chose: a recipe, a content type and a posting hour (the joint action).

The estimators, target policies and reward model of off-policy evaluation all
speak of the same action and of the same *factor marginals*, so both live
here: ``Marginals`` maps every factor (the six recipe fields, then
``content_type`` and ``hour``) to ``{value: probability}``. A factor whose
value is ``None`` in a logged round was not decided by the planner (no content
arms, no timing arms): it has probability 1 under every policy and adds
nothing to the reward model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from learning_loop.domain.recipe import RECIPE_FIELDS

CONTENT = "content_type"
HOUR = "hour"
#: The factors of an action: the six recipe fields, then content type and posting hour.
FACTORS: tuple[str, ...] = (*RECIPE_FIELDS, CONTENT, HOUR)

#: ``{factor: {value: probability}}`` over :data:`FACTORS`.
Marginals = Mapping[str, Mapping[Any, float]]


def normalise_value(factor: str, value: Any) -> Any:
    """The comparable form of a factor value: ints for scene_count and hour, str otherwise, None kept."""
    if value is None:
        return None
    if factor in ("scene_count", HOUR):
        return int(value)
    return str(value)


@dataclass(frozen=True)
class Action:
    """One job's choice. ``recipe`` holds the six fields; ``content_type`` / ``hour`` are None when the
    planner did not choose them."""

    recipe: Mapping[str, Any]
    content_type: str | None
    hour: int | None

    @classmethod
    def of(cls, recipe: Mapping[str, Any], content_type: Any, hour: Any) -> "Action":
        return cls(
            recipe={f: normalise_value(f, recipe[f]) for f in RECIPE_FIELDS},
            content_type=normalise_value(CONTENT, content_type),
            hour=normalise_value(HOUR, hour),
        )

    def value(self, factor: str) -> Any:
        if factor == CONTENT:
            return self.content_type
        if factor == HOUR:
            return self.hour
        return self.recipe[factor]

    def recipe_key(self) -> tuple:
        return tuple(self.recipe[f] for f in RECIPE_FIELDS)
