"""The SQL model loader: refs, sqlglot cross-check, columns, code versions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from learning_loop.warehouse.sql_models import SqlModelError, load_models
from learning_loop.warehouse.schema import TABLES


def test_models_load_with_refs_and_columns():
    models = load_models()
    assert {"outcomes", "percentile_rewards", "recipe_stats", "recipes"} <= set(models)
    assert models["outcomes"].refs == ("metric_snapshots", "videos")
    assert models["percentile_rewards"].refs == ("outcomes",)
    assert models["recipe_stats"].refs == ("percentile_rewards", "videos")
    for model in models.values():
        assert set(model.columns) == set(TABLES[model.name].column_names), model.name
        assert model.group == "core"
        assert model.code_version == hashlib.sha256(model.path.read_bytes()).hexdigest()[:16]
        assert "{{" not in model.sql and "--" not in model.sql
    assert models["recipes"].partitioned is False and models["outcomes"].partitioned is True
    assert "as_of" in models["outcomes"].parameters


def _write(tmp_path: Path, name: str, sql: str) -> Path:
    folder = tmp_path / "grp"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.sql").write_text(sql)
    return tmp_path


def test_reading_a_table_without_ref_is_an_error(tmp_path):
    root = _write(tmp_path, "m", "SELECT v.project_id FROM {{ ref('videos') }} v JOIN metric_snapshots s ON 1 = 1")
    with pytest.raises(SqlModelError, match="reads without ref.*metric_snapshots"):
        load_models(root)


def test_unused_ref_is_an_error(tmp_path):
    root = _write(tmp_path, "m", "-- {{ ref('outcomes') }} is mentioned only in a comment\nSELECT 1 AS x FROM {{ ref('videos') }}")
    with pytest.raises(SqlModelError, match="never read.*outcomes"):
        load_models(root)


def test_unnamed_output_column_is_an_error(tmp_path):
    root = _write(tmp_path, "m", "SELECT * FROM {{ ref('videos') }}")
    with pytest.raises(SqlModelError, match="needs a name"):
        load_models(root)


def test_group_and_code_version_follow_the_file(tmp_path):
    root = _write(tmp_path, "m", "{{ config(partitioned='none') }}\nSELECT project_id FROM {{ ref('videos') }}")
    first = load_models(root)["m"]
    assert first.group == "grp" and not first.partitioned
    (root / "grp" / "m.sql").write_text("{{ config(partitioned='none') }}\nSELECT video_id FROM {{ ref('videos') }}")
    assert load_models(root)["m"].code_version != first.code_version
