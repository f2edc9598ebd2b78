"""Errors for bad planner input; each is a ``ValueError`` with a one-line message."""

from __future__ import annotations


class PlanningError(ValueError):
    """Bad input for the planner. ``str(error)`` is a one-line message."""


class NoRecipeStatsError(PlanningError):
    """The project has no recipe stats to plan from."""

    def __init__(self, project_id: str, message: str | None = None) -> None:
        self.project_id = project_id
        super().__init__(
            message
            or f"no recipe stats for project {project_id!r}: run `learning-loop backfill --project {project_id}` "
            "or `learning-loop update-stats --date D` first"
        )


class InvalidTopicsError(PlanningError):
    """The topics are unusable (none left after cleaning, or a line too long)."""


class InvalidPlanRequestError(PlanningError):
    """A request field is out of range."""


__all__ = ["InvalidPlanRequestError", "InvalidTopicsError", "NoRecipeStatsError", "PlanningError"]
