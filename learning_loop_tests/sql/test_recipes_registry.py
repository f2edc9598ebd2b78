"""The recipe registry is refreshed in full, but a recipe keeps the time it was first registered."""

from __future__ import annotations

import time
from datetime import datetime

import dagster as dg

from learning_loop.defs.core.sql_assets import sql_assets
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, load, video


def _refresh(url: str) -> None:
    recipes = [a for a in sql_assets() if a.key.to_user_string() == "recipes"]
    result = dg.materialize(recipes, resources={"warehouse": WarehouseResource(url=url)},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success


def test_refresh_keeps_registered_at(warehouse, warehouse_url):
    load(warehouse, [video("p", "v1", datetime(2024, 1, 1, 8))])
    _refresh(warehouse_url)
    first = warehouse.query_df("SELECT recipe_hash, registered_at FROM recipes")
    time.sleep(0.01)
    _refresh(warehouse_url)  # nothing new: nothing a reader sees changes
    again = warehouse.query_df("SELECT recipe_hash, registered_at FROM recipes")
    assert again.equals(first)
    load(warehouse, [video("p", "v2", datetime(2024, 1, 2, 8), recipe=RECIPE_B)])
    _refresh(warehouse_url)
    rows = warehouse.query_df("SELECT recipe_hash, registered_at, times_used FROM recipes ORDER BY registered_at")
    assert len(rows) == 2
    old = rows[rows["recipe_hash"] == first["recipe_hash"].iat[0]]
    assert old["registered_at"].iat[0] == first["registered_at"].iat[0]
    assert rows["registered_at"].iat[1] > rows["registered_at"].iat[0]  # the new recipe is registered now
    assert RECIPE_A != RECIPE_B
