"""A closed-loop simulator with known ground truth (issue 5).

- :mod:`learning_loop.simulate.world` — the hidden world: true effects of every
  recipe field value, content type and posting hour, the oracle, video-to-video
  noise and delayed, jittered metric snapshots (pure, seeded).
- :mod:`learning_loop.simulate.policies` — in-process baselines (uniform-random
  recipes and the seeds' fixed 70/30 policy) that see the same world.
- :mod:`learning_loop.simulate.loop` — the loop that drives the real platform
  day by day, through :mod:`learning_loop.simulate.platform` (landing files,
  Dagster jobs, the read-only views), on its own settings and Dagster instance.
- :mod:`learning_loop.simulate.session` — one run with progress lines (CLI, demo).
- :mod:`learning_loop.simulate.report` — the per-day table (CSV) and the regret
  plot (PNG).
"""

from learning_loop.simulate.world import Oracle, Realisation, World, WorldConfig

__all__ = ["Oracle", "Realisation", "World", "WorldConfig"]
