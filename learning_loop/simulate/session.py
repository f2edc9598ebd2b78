"""One simulation with progress lines and a summary: what `learning-loop simulate` and the demo run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from learning_loop.settings import Settings
from learning_loop.simulate.loop import Simulation, SimulationConfig, SimulationResult
from learning_loop.simulate.report import summary_lines


def simulate(
    parent: Settings,
    *,
    days: int = 14,
    seed: int = 1,
    jobs_per_day: int = 5,
    warmup_days: int = 7,
    out: Path | None = None,
    fast: bool = False,
    say: Callable[[str], None] = print,
) -> SimulationResult:
    """Run one simulation under the operator's home, saying what happens; returns the result."""
    config = SimulationConfig(
        days=days, seed=seed, jobs_per_day=jobs_per_day, warmup_days=warmup_days, out_dir=out, fast=fast
    )
    sim = Simulation(config, progress=say, parent=parent)
    say(
        f"simulation seed {seed}: {days} days × {jobs_per_day} jobs, {warmup_days} warm-up days, from {sim.start}; "
        f"runtime folder {sim.home} (its own DuckDB warehouse and Dagster instance)"
    )
    o = sim.oracle
    say(
        f"hidden oracle: {o.recipe['preset']}/{o.recipe['hook_type']}/{o.recipe['scene_count']}/"
        f"{o.recipe['narration_wpm_bucket']}/{o.recipe['caption_density_bucket']}/{o.recipe['ending_type']}, "
        f"{o.content_type} at {o.hour:02d}h → true reward {o.reward:.3f}"
    )
    result = sim.run()
    for line in summary_lines(result.rows):
        say(line)
    say(f"report: {result.csv_path}")
    say(f"plot:   {result.png_path}")
    say(
        f"done in {result.seconds:.1f}s. Its runs and the simulation_report asset's plots (by simulated day) are in "
        f"its own Dagster instance: `LEARNING_LOOP_HOME={sim.home} learning-loop ui` → http://127.0.0.1:3000"
    )
    return result
