"""Entry points of the closed-loop simulator (kept for callers of the earlier single module).

The loop itself is :mod:`learning_loop.simulate.loop`; its adapter to the
platform is :mod:`learning_loop.simulate.platform`.
"""

from learning_loop.simulate.loop import (
    DEFAULT_PROJECT,
    DEFAULT_START,
    MARKER,
    Simulation,
    SimulationConfig,
    SimulationResult,
    default_home,
    planner_seed,
    prepare_home,
    run_simulation,
    topics_for,
)
from learning_loop.simulate.platform import SIM_TAG, PlatformAdapter

__all__ = [
    "DEFAULT_PROJECT", "DEFAULT_START", "MARKER", "SIM_TAG", "PlatformAdapter", "Simulation", "SimulationConfig",
    "SimulationResult", "default_home", "planner_seed", "prepare_home", "run_simulation", "topics_for",
]
