"""The daily `judge_weights` asset, its checks, its nightly schedule and the weights view (SPEC §12)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from learning_loop.defs.canaries.judge_weights import (
    CRITICAL_CHECK,
    DROP_CHECK,
    LOW_CHECK,
    judge_weights,
    judge_weights_nightly,
)
from learning_loop.stores.learning_state import set_paused
from learning_loop.views.canaries import weights_view

AGENT = "inbox_triage"
P1, P2 = "2024-01-10", "2024-01-15"


def _labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


def seed_rows(wh, n: int = 120) -> np.ndarray:
    """Gold labels (day 5), and three judges judged on day 6: perfect gpt-4, noisy gpt-3.5-turbo, random
    claude-3-opus; plus approval labels (not gold) that must not count."""
    rng = np.random.default_rng(7)
    labels = _labels(n, 1)
    ids = [f"e{i}" for i in range(n)]
    gold = pd.DataFrame({"agent": AGENT, "example_id": ids, "source": "gold", "label": labels,
                         "labeled_at": datetime(2024, 1, 5), "features": "{}"})
    wrong = gold.assign(source="approvals", label=1 - labels)  # would ruin gpt-4 if it counted
    scores = {
        "gpt-4": 0.2 + 0.6 * labels + rng.uniform(0, 0.1, n),
        "gpt-3.5-turbo": np.clip(0.5 * labels + rng.uniform(0, 0.8, n), 0, 1),
        "claude-3-opus": rng.uniform(0, 1, n),
    }
    judged = pd.concat([
        pd.DataFrame({"agent": AGENT, "example_id": ids, "judge": judge, "score": s, "judged_at": datetime(2024, 1, 6)})
        for judge, s in scores.items()
    ])
    with wh.transaction() as tx:
        tx.insert_df("labels", pd.concat([gold, wrong]))
        tx.insert_df("judgments", judged)
    return labels


def materialize(resources, partition: str) -> dg.ExecuteInProcessResult:
    result = dg.materialize([judge_weights], partition_key=partition, resources=resources,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return result


def _checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_weights_order_checks_and_drop(warehouse, resources):
    labels = seed_rows(warehouse)
    first = materialize(resources, P1)
    weights = weights_view(warehouse)
    w = weights[AGENT]
    assert set(w) == {"gpt-4", "gpt-3.5-turbo", "claude-3-opus"}
    assert w["gpt-4"] > w["gpt-3.5-turbo"] > w["claude-3-opus"]
    assert w["gpt-4"] == pytest.approx(120 / 140, abs=1e-9)  # perfect ranking, shrunk by n / (n + 20)
    assert w["claude-3-opus"] < 0.15
    meta = first.asset_materializations_for_node("judge_weights")[0].metadata
    assert meta[f"weight/{AGENT}/gpt-4"].value == pytest.approx(w["gpt-4"])
    assert "| agent | claude-3-opus | gpt-3.5-turbo | gpt-4 |" in meta["heat_map"].value
    checks = _checks(first)
    assert checks[LOW_CHECK].passed is False and checks[LOW_CHECK].severity == dg.AssetCheckSeverity.WARN
    assert checks[CRITICAL_CHECK].passed is False and checks[CRITICAL_CHECK].severity == dg.AssetCheckSeverity.ERROR
    assert "claude-3-opus" in checks[CRITICAL_CHECK].description
    assert checks[DROP_CHECK].passed is True

    # gpt-4 re-judges the same examples on day 12 at random: its weight falls within the week
    rng = np.random.default_rng(3)
    rejudged = pd.DataFrame({"agent": AGENT, "example_id": [f"e{i}" for i in range(len(labels))], "judge": "gpt-4",
                             "score": rng.uniform(0, 1, len(labels)), "judged_at": datetime(2024, 1, 12)})
    with warehouse.transaction() as tx:
        tx.insert_df("judgments", rejudged)
    second = materialize(resources, P2)
    assert weights_view(warehouse)[AGENT]["gpt-4"] < 0.3
    drop = _checks(second)[DROP_CHECK]
    assert drop.passed is False and "gpt-4" in drop.description
    # --as-of picks the newest partition complete then: P1's weights until P2 + 1 day
    as_of = datetime(2024, 1, 15, 23, 59, tzinfo=timezone.utc)
    assert weights_view(warehouse, as_of)[AGENT]["gpt-4"] == pytest.approx(w["gpt-4"])
    assert weights_view(warehouse, as_of + timedelta(minutes=1))[AGENT]["gpt-4"] < 0.3
    assert weights_view(warehouse, datetime(2024, 1, 10, tzinfo=timezone.utc)) == {}


def test_partition_sees_only_what_was_known(warehouse, resources):
    seed_rows(warehouse)
    materialize(resources, "2024-01-05")  # as of Jan 6 00:00: gold known, no judgment yet
    assert warehouse.scalar("SELECT count(*) FROM judge_weights WHERE partition_date = :d",
                            {"d": date(2024, 1, 5)}) == 0
    materialize(resources, "2024-02-20")  # gold labeled more than 30 days before: outside the window
    frame = warehouse.query_df("SELECT judge, weight, reason FROM judge_weights WHERE partition_date = :d",
                               {"d": date(2024, 2, 20)})
    assert set(frame["reason"]) == {"no_gold"} and (frame["weight"] == 0).all()


def test_nightly_schedule_skips_while_paused(warehouse, resources):
    when = datetime(2024, 1, 11, 4, 30, tzinfo=timezone.utc)
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_schedule_context(resources=resources, instance=instance, scheduled_execution_time=when) as ctx:
            request = judge_weights_nightly(ctx)
        assert request.partition_key == "2024-01-10"
        with warehouse.transaction() as tx:
            set_paused(tx, paused=True, reason="judge audit", actor="ops", ran_as="t", at=when)
        with dg.build_schedule_context(resources=resources, instance=instance, scheduled_execution_time=when) as ctx:
            skipped = judge_weights_nightly(ctx)
        assert isinstance(skipped, dg.SkipReason) and "judge audit" in skipped.skip_message
