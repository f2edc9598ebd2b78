"""Shared fixtures: a fresh warehouse per test on DuckDB and on PostgreSQL, an isolated runtime.

PostgreSQL tests need `LEARNING_LOOP_TEST_PG_URL` (an admin URL of a server where
the test may create databases). Without it they skip with that reason; in CI
(`CI=true`) an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.warehouse.backend import Warehouse, open_warehouse

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

PG_ENV = "LEARNING_LOOP_TEST_PG_URL"
# Tests write whole landing files and ingest them at once: no settle window (deployments wait 10 s,
# see ingestion/landing.py). A test that needs the window passes `landing_settle_s` itself.
os.environ.setdefault("LEARNING_LOOP_LANDING_SETTLE_SECONDS", "0")


@pytest.fixture(autouse=True)
def _no_dagster_state_storage_left_behind() -> Iterator[None]:
    """Dagster keeps "the current definitions-state storage" in a context variable that an instance's or an
    evaluation context's `__enter__` sets; a test that leaves one behind (a context not closed, an
    instance disposed elsewhere) would make every later `Definitions` resolution in this worker fail
    with "undefined DagsterInstance weakref". Each test starts and ends without one."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
    return url


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = _pg_admin_url()
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # pragma: no cover - depends on the machine
        message = f"PostgreSQL at {PG_ENV} is unreachable: {exc}".splitlines()[0]
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def _create_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ll_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def _drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    from learning_loop.warehouse import backend

    backend._pg_engine.cache_clear()
    engine = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name, url = _create_database(pg_admin_url)
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh warehouse URL on each backend."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def warehouse(warehouse_url: str) -> Warehouse:
    wh = open_warehouse(warehouse_url)
    wh.ensure_schema()
    return wh


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> Path:
    """An isolated LEARNING_LOOP_HOME whose warehouse is the parametrised backend."""
    home = tmp_path / "runtime"
    (home / "landing" / "videos").mkdir(parents=True)
    (home / "landing" / "metrics").mkdir(parents=True)
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(home))
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home


@pytest.fixture
def resources(warehouse_url: str, tmp_path: Path) -> dict:
    """The resources of a run against the parametrised warehouse and a runtime folder under tmp_path."""
    home = tmp_path / "runtime"
    return {"warehouse": WarehouseResource(url=warehouse_url), "runtime": RuntimeResource(home=str(home))}
