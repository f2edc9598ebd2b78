"""Read-only views: plain functions over the warehouse that the CLI prints and the simulator and tests call."""

from learning_loop.views.common import UnknownProject, known_projects, require_project

__all__ = ["UnknownProject", "known_projects", "require_project"]
