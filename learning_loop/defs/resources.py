"""The warehouse as a Dagster resource: DuckDB file or PostgreSQL, chosen by URL."""


import dagster as dg
from pydantic import PrivateAttr

from learning_loop import settings
from learning_loop.warehouse.backend import Warehouse, open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """`url`: `duckdb:///<path>` or a SQLAlchemy PostgreSQL URL. Empty means
    `LEARNING_LOOP_WAREHOUSE_URL`, else the DuckDB file under `LEARNING_LOOP_HOME`."""

    url: str = ""
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.url or settings.warehouse_url())
            self._warehouse.ensure_schema()
        return self._warehouse


def warehouse_resource() -> WarehouseResource:
    """The resource as the code location configures it (an EnvVar when the variable is set)."""
    import os

    if os.environ.get("LEARNING_LOOP_WAREHOUSE_URL"):
        return WarehouseResource(url=dg.EnvVar("LEARNING_LOOP_WAREHOUSE_URL"))
    return WarehouseResource()


def warehouse_kind() -> str:
    return "duckdb" if settings.warehouse_url().startswith("duckdb") else "postgres"
