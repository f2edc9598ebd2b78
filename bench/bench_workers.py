"""One vs two Celery workers on the sample data (issue 14): `update_stats` over a partition range.

    LEARNING_LOOP_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_workers.py [--first 2024-01-01] [--last 2024-02-29] \\
        [--workers 1 2] [--repeat 2] [--settle 1.5]

Builds what `learning_loop_tests/production/` builds (the production instance template on a fresh
PostgreSQL database, a fresh PostgreSQL warehouse, RabbitMQ at 127.0.0.1:5672, a queue of its own),
lands every sample file and ingests it once, then for each repeat and each worker count starts that
many `learning-loop worker --concurrency 1` processes and runs `update_stats` over the range through
the production tests' driver (`learning_loop_tests/production/drive.py`, the Celery executor). Each
run rewrites the same partitions, so every run does the same work.

Before each run it waits (up to `--settle-max` seconds) for the 1-minute load average to fall below
`--settle`, so one run's own load does not weigh on the next. Prints per run: the driver's wall-clock
time (process start to exit), the run's own duration (its start and end events), the load average just
before it started, the steps' durations, how many steps each worker ran, and the CPU seconds of each
worker (main and pool processes), the driver, PostgreSQL and the whole machine during the run; with
`--json` the same as JSON. The databases and the queue are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _step_times(instance, run_id: str) -> dict[str, dict]:
    """step key → start/end timestamps and the pid of the process that ran it."""
    import dagster as dg

    steps: dict[str, dict] = {}
    for kind, field in ((dg.DagsterEventType.STEP_START, "start"), (dg.DagsterEventType.STEP_SUCCESS, "end")):
        for record in instance.get_records_for_run(run_id, of_type=kind, limit=10_000).records:
            entry = record.event_log_entry
            step = steps.setdefault(entry.dagster_event.step_key, {})
            step[field] = entry.timestamp
            step.setdefault("pid", entry.dagster_event.pid)
    return steps


def _machine_cpu_s() -> float:
    """CPU seconds the whole machine spent busy (all cores, /proc/stat) since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_s(pids: set[int] | None = None, pgids: set[int] | None = None, user: str | None = None) -> float:
    """CPU seconds (user + system) of the live processes with those pids, process groups or owner."""
    tick = os.sysconf("SC_CLK_TCK")
    uid = None
    if user is not None:
        import pwd

        uid = pwd.getpwnam(user).pw_uid
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if not ((pids and int(proc.name) in pids) or (pgids and int(fields[2]) in pgids)
                    or (uid is not None and proc.stat().st_uid == uid)):
                continue
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", default="2024-01-01")
    parser.add_argument("--last", default="2024-02-29")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=1,
                        help="BLAS/OpenMP threads per step (`learning-loop worker --threads`, default 1)")
    parser.add_argument("--settle", type=float, default=1.5, help="wait for a 1-minute load below this")
    parser.add_argument("--settle-max", type=float, default=180.0)
    parser.add_argument("--pg-url", default=os.environ.get("LEARNING_LOOP_TEST_PG_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.pg_url:
        parser.error("set LEARNING_LOOP_TEST_PG_URL or --pg-url (a PostgreSQL admin URL)")

    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    from learning_loop.demo import SAMPLE_DIR
    from learning_loop.orchestration.runner import run_job
    from learning_loop.settings import Settings
    from learning_loop.warehouse.backend import open_warehouse
    from learning_loop_tests.conftest import _create_database, _drop_database
    from learning_loop_tests.production.cluster import (
        celery_worker,
        cluster_env,
        delete_queue,
        orchestrator_result,
        require_rabbitmq,
        start_orchestrator,
        unique_queue,
        write_production_instance,
    )

    require_rabbitmq()
    tmp = Path(tempfile.mkdtemp(prefix="bench_workers_"))
    names: list[str] = []
    runs: list[dict] = []
    queue = unique_queue()
    try:
        instance_db, instance_url = _create_database(args.pg_url)
        names.append(instance_db)
        warehouse_db, warehouse_url = _create_database(args.pg_url)
        names.append(warehouse_db)
        home = tmp / "rt"
        for kind in ("videos", "metrics"):
            (home / "landing" / kind).mkdir(parents=True)
            for path in sorted((SAMPLE_DIR / kind).glob("*")):
                shutil.copy2(path, home / "landing" / kind / path.name)
        write_production_instance(home / "dagster")
        env = cluster_env(home, warehouse_url, instance_url, queue)
        os.environ.update({k: env[k] for k in ("LEARNING_LOOP_HOME", "LEARNING_LOOP_WAREHOUSE_URL", "DAGSTER_HOME",
                                               "DAGSTER_PG_URL")})
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))
        try:
            t0 = time.perf_counter()
            ingest = run_job("ingest_landing", settings=Settings.from_env(), instance=instance)
            wh = open_warehouse(warehouse_url)
            counts = {t: int(wh.scalar(f"SELECT count(*) FROM {t}")) for t in ("ingested_files", "videos", "metric_snapshots")}
            print(f"ingested the sample in {time.perf_counter() - t0:.1f} s (success={ingest.success}): {counts}",
                  flush=True)
            for repeat in range(1, args.repeat + 1):
                for count in args.workers:
                    with ExitStack() as stack:
                        workers = [
                            stack.enter_context(celery_worker(env, tmp / f"worker{i}.log", concurrency=1,
                                                              name=f"bench{i}", threads=args.worker_threads))
                            for i in range(1, count + 1)
                        ]
                        deadline = time.monotonic() + args.settle_max
                        while os.getloadavg()[0] >= args.settle and time.monotonic() < deadline:
                            time.sleep(5)
                        load = os.getloadavg()
                        import resource

                        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        pg0, machine0 = _cpu_s(user="postgres"), _machine_cpu_s()
                        log = tmp / f"run_{repeat}_{count}.log"
                        start = time.perf_counter()
                        driver = start_orchestrator(env, log, "update_stats",
                                                    partition_range=[args.first, args.last])
                        result = orchestrator_result(driver, log, timeout_s=1800)
                        wall = time.perf_counter() - start
                        load_after = os.getloadavg()
                        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        cpu = {f"worker{i}": round(_cpu_s(pgids={w.pid}), 1) for i, w in enumerate(workers, start=1)}
                        cpu["driver"] = round(children1.ru_utime + children1.ru_stime
                                              - children0.ru_utime - children0.ru_stime, 1)
                        cpu["postgres"] = round(_cpu_s(user="postgres") - pg0, 1)
                        cpu["machine"] = round(_machine_cpu_s() - machine0, 1)
                        if not result["success"]:
                            raise SystemExit(f"run failed: {result}")
                        record = instance.get_run_record_by_id(result["run_id"])
                        steps = _step_times(instance, result["run_id"])
                        pids = {w.pid: f"worker{i}" for i, w in enumerate(workers, start=1)}
                        per_worker: dict[str, int] = {}
                        for step in steps.values():
                            who = pids.get(_parent_pid(step["pid"]) or -1, "other")
                            per_worker[who] = per_worker.get(who, 0) + 1
                        runs.append({
                            "repeat": repeat, "workers": count, "driver_s": round(wall, 1),
                            "run_s": round(record.end_time - record.start_time, 1),
                            "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in load_after],
                            "steps_per_worker": per_worker, "cpu_s": cpu,
                            "steps_s": {k: round(v["end"] - v["start"], 1) for k, v in sorted(steps.items())
                                        if "start" in v and "end" in v},
                            "timeline": {k: [pids.get(_parent_pid(v["pid"]) or -1, "other"),
                                             round(v["start"] - record.start_time, 1),
                                             round(v["end"] - record.start_time, 1)]
                                         for k, v in sorted(steps.items(), key=lambda kv: kv[1].get("start", 0))
                                         if "start" in v and "end" in v},
                        })
                        print(json.dumps(runs[-1]) if args.json else
                              f"repeat {repeat}, {count} worker(s): driver {wall:.1f} s, run "
                              f"{runs[-1]['run_s']:.1f} s, load before {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}, "
                              f"after {load_after[0]:.2f}; steps per worker {per_worker}; CPU s {cpu}; "
                              + ", ".join(f"{k} {v}" for k, v in runs[-1]["steps_s"].items()), flush=True)
        finally:
            instance.dispose()
    finally:
        delete_queue(queue)
        for name in names:
            _drop_database(args.pg_url, name)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"first": args.first, "last": args.last, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
