"""A small production cluster for tests: a PostgreSQL Dagster instance (the production template),
a PostgreSQL warehouse, a real Celery worker process on the local RabbitMQ, and runs orchestrated
by a separate process with `LEARNING_LOOP_EXECUTOR=celery`.

Every process started here is started in its own session and killed with its whole process
group when the test ends, so no worker outlives its test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from learning_loop.demo import SAMPLE_DIR

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BROKER_HOST, BROKER_PORT = "127.0.0.1", 5672
BROKER_URL = f"pyamqp://guest:guest@{BROKER_HOST}:{BROKER_PORT}//"


def require_rabbitmq() -> None:
    """Skip (locally) or fail (CI=true) when no broker listens on 127.0.0.1:5672."""
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            return
    except OSError as exc:
        message = (f"RabbitMQ at {BROKER_HOST}:{BROKER_PORT} is unreachable ({exc}); "
                   "start it with `rabbitmq-server -detached`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def unique_queue() -> str:
    return f"ll_test_{uuid.uuid4().hex[:10]}"


def delete_queue(queue: str) -> None:
    """Remove a test's queue (and its exchange) from the broker."""
    from kombu import Connection

    with Connection(BROKER_URL, connect_timeout=5) as conn:
        channel = conn.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)


def write_production_instance(dagster_home: Path) -> Path:
    """`$DAGSTER_HOME/dagster.yaml` from the production template (storage from `DAGSTER_PG_URL`)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    template = resources.files("learning_loop") / "templates" / "dagster.production.yaml"
    (dagster_home / "dagster.yaml").write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    return dagster_home


def land_sample(home: Path, weeks: int = 2) -> None:
    for kind in ("videos", "metrics"):
        target = home / "landing" / kind
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((SAMPLE_DIR / kind).glob("*.csv"))[:weeks]:
            shutil.copy2(path, target / path.name)


def cluster_env(home: Path, warehouse_url: str, instance_url: str, queue: str, **extra: str) -> dict[str, str]:
    """The deployment's environment, shared by the worker and the orchestrating process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEARNING_LOOP_", "DAGSTER_"))}
    env.update(
        LEARNING_LOOP_HOME=str(home),
        LEARNING_LOOP_WAREHOUSE_URL=warehouse_url,
        DAGSTER_HOME=str(home / "dagster"),
        DAGSTER_PG_URL=instance_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        LEARNING_LOOP_EXECUTOR="celery",
        LEARNING_LOOP_CELERY_BROKER=BROKER_URL,
        LEARNING_LOOP_CELERY_QUEUE=queue,
        PYTHONWARNINGS="ignore",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def kill_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """TERM the process group, then KILL what is left; reap the leader."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # pool children left behind by a dead leader
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


@contextmanager
def celery_worker(env: dict[str, str], log: Path, concurrency: int = 1, name: str = "ll-test",
                  ready_timeout_s: float = 60.0, wait: bool = True, threads: int = 1) -> Iterator[subprocess.Popen]:
    """`learning-loop worker` in its own session; yields once Celery says it is ready (`wait`), or at
    once (the caller then calls `wait_ready`). The whole process group is killed on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "learning-loop"), "worker", "--concurrency", str(concurrency), "--name", name,
             "--threads", str(threads), "--loglevel", "INFO"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        if wait:
            wait_ready(proc, log, ready_timeout_s)
        yield proc
    finally:
        kill_group(proc)


def wait_ready(proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"worker not ready after {timeout_s:.0f} s: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def start_orchestrator(env: dict[str, str], log: Path, job: str, **kwargs: Any) -> subprocess.Popen:
    """A separate process that runs `job` with the code location's (Celery) executor and prints
    `{"run_id": …, "success": …}` as its last line."""
    args = json.dumps({"job": job, **kwargs})
    out = open(log, "wb")  # noqa: SIM115 - closed by the child's exit; read by the caller
    return subprocess.Popen([sys.executable, "-m", "learning_loop_tests.production.drive", args], env=env, cwd=REPO,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def orchestrator_results(proc: subprocess.Popen, log: Path, timeout_s: float) -> list[dict[str, Any]]:
    """Every run result the orchestrator printed, once it has exited."""
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(f"run did not finish in {timeout_s:.0f} s: {log.read_text()[-3000:]}") from None
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, f"orchestrator printed no result (exit {proc.returncode}): {log.read_text()[-3000:]}"
    return [json.loads(line) for line in lines]


def orchestrator_result(proc: subprocess.Popen, log: Path, timeout_s: float) -> dict[str, Any]:
    return orchestrator_results(proc, log, timeout_s)[-1]
