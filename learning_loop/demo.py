"""The demo: sample data → landing zone → ingestion → daily partitions → summary, the active-learning
walk-through (`learning_loop.demo_active`), then a closed-loop simulation (issue 5) in which the platform learns a hidden world.

Runs through Dagster on the embedded default (DuckDB + local instance under
`LEARNING_LOOP_HOME`), so every step is a run you can open in the web UI. The
simulation runs in `$LEARNING_LOOP_HOME/simulation/seed-1/` with its own DuckDB
warehouse and its own Dagster instance (`learning-loop simulate`), so the
sample data's instance shows only the sample data.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from learning_loop.demo_active import run_active_learning
from learning_loop.orchestration.runner import run_job
from learning_loop.settings import LANDING_KINDS, Settings
from learning_loop.views.common import known_projects
from learning_loop.views.recipes import data_date_range, recipes_view
from learning_loop.warehouse.backend import open_warehouse

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


def _say(message: str) -> None:
    print(message, flush=True)


def copy_sample_to_landing(settings: Settings, sample: Path = SAMPLE_DIR) -> int:
    """Copy sample files that are not in the landing zone yet; returns how many were copied."""
    copied = 0
    for kind in LANDING_KINDS:
        target = settings.landing_dir(kind)
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((sample / kind).glob("*")):
            if not (target / path.name).exists():
                shutil.copy2(path, target / path.name)
                copied += 1
    return copied


def _off_policy_summary(result, days: int) -> None:
    """Off-policy estimates of the seeds' policy and of uniform from the simulation's logged jobs
    (what `learning-loop evaluate-policy` prints)."""
    from learning_loop.simulate.loop import DEFAULT_PROJECT
    from learning_loop.views.evaluation import policy_evaluation_view

    sim_settings = Settings.for_home(result.home)
    wh = open_warehouse(sim_settings.warehouse_url)
    last_day = date.fromisoformat(str(result.rows[-1]["day"]))
    as_of = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    project = DEFAULT_PROJECT
    _say(f"      off-policy evaluation from the platform's logged propensities (`LEARNING_LOOP_HOME={result.home} "
         f"learning-loop evaluate-policy --project {project} --policy seeds --days {days} "
         f"--as-of {as_of:%Y-%m-%dT%H:%M:%SZ}`):")
    for policy in ("current", "seeds", "uniform"):
        try:
            view = policy_evaluation_view(wh, project, policy, days, as_of)
        except ValueError as exc:
            _say(f"        {policy}: {exc}")
            continue
        dr = view["estimates"]["dr"]
        ipw = view["estimates"]["ipw"]
        _say(f"        {policy:<8} DR {dr['value']:.3f} [{dr['ci_low']:.3f}, {dr['ci_high']:.3f}]  IPW {ipw['value']:.3f} "
             f"[{ipw['ci_low']:.3f}, {ipw['ci_high']:.3f}]  ({view['rounds']} rounds, ESS "
             f"{view['effective_sample_size']:.0f})")
    _say("        (an effective sample size far below the rounds means the platform rarely did what that policy "
         "would: IPW is then unreliable and DR leans on its reward model; see docs/off_policy_evaluation.md)")


def run_demo(settings: Settings, fresh: bool = False, simulation: bool = True, days: int = 14, seed: int = 1) -> int:
    started = time.monotonic()
    home = settings.home
    if fresh and home.exists():
        shutil.rmtree(home)
    steps = 6 if simulation else 5
    _say(f"learning-loop demo — runtime state in {home}")
    _say(f"[1/{steps}] copying sample files into {settings.landing_dir()} …")
    _say(f"      {copy_sample_to_landing(settings)} new files")

    _say(f"[2/{steps}] ingesting the landing zone (Dagster job ingest_landing) …")
    ingest = run_job("ingest_landing", settings=settings, progress="      ingesting")
    ledger = ingest.materializations.get("ingested_files", {})
    _say(
        f"      {ledger.get('files_loaded', 0)} files loaded, {ledger.get('files_rejected', 0)} rejected, "
        f"{ledger.get('files_skipped', 0)} already loaded; rows {ledger.get('rows_read', 0)} read = "
        f"{ledger.get('rows_loaded', 0)} loaded + {ledger.get('rows_quarantined', 0)} quarantined"
    )

    wh = open_warehouse(settings.warehouse_url)
    span = data_date_range(wh)
    if span is None:
        _say("no data loaded; nothing to compute")
        return 1
    first, last = span
    _say(f"[3/{steps}] materialising daily partitions {first} .. {last} in one run (job update_stats) …")
    run_job("update_stats", settings=settings, partition_range=(first.isoformat(), last.isoformat()),
            progress="      materialising daily partitions")

    _say(f"[4/{steps}] summary")
    rejected = wh.query_df("SELECT kind, file_name, reason FROM ingested_files WHERE status = 'rejected' ORDER BY 1, 2")
    for row in rejected.itertuples(index=False):
        _say(f"      rejected {row.kind}/{row.file_name}: {row.reason}")
    reasons = wh.query_df(
        "SELECT kind, reason, count(*) AS n FROM quarantine GROUP BY kind, reason ORDER BY kind, n DESC, reason"
    )
    _say(f"      quarantined rows by reason ({int(reasons['n'].sum()) if not reasons.empty else 0}):")
    for row in reasons.itertuples(index=False):
        _say(f"        {row.kind:<8} {row.n:>3}  {row.reason}")
    for project in known_projects(wh):
        view = recipes_view(wh, project, limit=3)
        _say(f"      top recipes of {project} as of {view['partition_date']}:")
        for r in view["recipes"]:
            _say(
                f"        score {r['score']:.3f} (avg reward {r['avg_reward']:.3f} over {r['scored_videos']:>2} videos)  "
                f"{r['preset']} / {r['hook_type']} / {r['scene_count']} scenes / {r['narration_wpm_bucket']} wpm / "
                f"{r['caption_density_bucket']} captions / {r['ending_type']}"
            )
    _say(f"      sample-data walk-through done in {time.monotonic() - started:.1f}s")
    _say(f"[5/{steps}] active learning (runbook 003): labels → bundle → approval → 10 % canary → guard → audit log …")
    run_active_learning(settings, _say)
    if simulation:
        from learning_loop.simulate.session import simulate

        _say(
            f"[6/{steps}] closed-loop simulation: {days} days in which the platform plans against a hidden world "
            "(`learning-loop simulate`; skip with --no-simulation) …"
        )
        result = simulate(settings, days=days, seed=seed, jobs_per_day=5, warmup_days=7, say=lambda m: _say(f"      {m}"))
        _off_policy_summary(result, days)
    _say(
        f"done in {time.monotonic() - started:.1f}s. Open the runs in the web UI: "
        f"`LEARNING_LOOP_START_DATE={first} LEARNING_LOOP_END_DATE={last + timedelta(days=1)} learning-loop ui` "
        "→ http://127.0.0.1:3000 (the two dates keep the partition bars to the sample data's days)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo(Settings.from_env()))
