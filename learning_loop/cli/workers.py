"""`learning-loop worker`: a dagster-celery worker for deployments with `LEARNING_LOOP_EXECUTOR=celery`.

The worker is dagster-celery's own Celery app and task (`execute_plan`), configured with the
same broker, result backend and queue as the executor (`orchestration.executor.celery_config`),
so it takes the steps the code location's runs send. Each task loads the job from the code
location (this package) and the instance from the run, so a worker needs only this package,
the deployment's environment (warehouse URL, …) and a route to the broker, the instance's
PostgreSQL and the warehouse.

Same as `dagster-celery worker start -A dagster_celery.app -y celery.yaml -q QUEUE`, with
`celery.yaml` holding `execution: config:` from `learning-loop worker --print-config`.

Numeric threads: each step runs with `--threads` BLAS/OpenMP threads (default 1), so a worker process
is one core and the cores are shared by running more worker processes (`--concurrency`, more workers).
Measured on this 2-core machine (README, "Steps on Celery workers"): with the libraries' default of a
thread per core, one worker already kept both cores busy and spun more CPU than it used, and a second
worker only added contention; with one thread each, one worker was faster and two workers faster still.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, settings_of
from learning_loop.orchestration.executor import celery_config
from learning_loop.settings import Settings


def worker_app(settings: Settings) -> Any:
    """dagster-celery's app (with its `execute_plan` task) on the deployment's broker, backend and queue."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    config = celery_config(settings)
    app = make_app(CeleryExecutor.for_cli(**config).app_args())
    create_task(app)
    return app


def worker_argv(settings: Settings, *, concurrency: int, queue: str | None = None, name: str | None = None,
                loglevel: str = "INFO") -> list[str]:
    """Celery's worker arguments: one task at a time per process (prefetch 1, like dagster-celery's CLI)."""
    return [
        "worker",
        "--queues", queue or settings.celery_queue,
        "--concurrency", str(concurrency),
        "--prefetch-multiplier", "1",
        "--hostname", f"{name or 'learning-loop'}@{socket.gethostname()}",
        "--loglevel", loglevel,
        "--without-gossip", "--without-mingle",
    ]


#: Environment variables the numeric libraries read for their thread pools.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_numeric_threads(threads: int) -> None:
    """BLAS/OpenMP threads of this process and the pool processes it forks (and their children)."""
    from threadpoolctl import threadpool_limits

    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})  # written for children, never read
    threadpool_limits(limits=threads)  # libraries already loaded; forked pool processes inherit it


def cmd_worker(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.concurrency < 1:
        raise BadInput(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.threads < 1:
        raise BadInput(f"--threads must be at least 1, got {args.threads}")
    if args.print_config:
        print(json.dumps({"execution": {"config": celery_config(settings)}}, indent=2))
        return 0
    limit_numeric_threads(args.threads)
    app = worker_app(settings)
    # load the code location once in the main process: a broken one fails here, at start, and the
    # pool processes forked from this one start their first step without importing it again
    import learning_loop.definitions  # noqa: F401

    app.worker_main(worker_argv(settings, concurrency=args.concurrency, queue=args.queue, name=args.name,
                                loglevel=args.loglevel))
    return 0


def register(add: AddCommand) -> None:
    p = add(
        "worker", cmd_worker,
        "start a Celery worker for runs with LEARNING_LOOP_EXECUTOR=celery (broker: LEARNING_LOOP_CELERY_BROKER)",
        json_flag=False,
    )
    p.add_argument("--concurrency", type=int, default=1, help="steps this worker runs at once (default 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads per step (default 1: scale with --concurrency and more workers)")
    p.add_argument("--queue", default=None, help="queue to listen on (default LEARNING_LOOP_CELERY_QUEUE or dagster)")
    p.add_argument("--name", default=None, help="worker name (default learning-loop@HOST)")
    p.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    p.add_argument("--print-config", action="store_true",
                   help="print the executor config block (for `dagster-celery worker start -y`) and exit")
