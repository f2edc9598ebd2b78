"""Test helpers for bundles and approvals: seeded label rows written straight into `labels`, job runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd

from learning_loop.stores.audit import RAN_AS_TAG
from learning_loop.warehouse.backend import Warehouse
from learning_loop_tests.helpers import env_resources

AGENT = "inbox_triage"
START = datetime(2024, 1, 1)
ALICE = "alice@host-a"
BOB = "bob@host-b"


def label_rows(agent: str = AGENT, n: int = 120, *, seed: int = 0, start: datetime = START,
               step: timedelta = timedelta(hours=1), prefix: str = "ex", source: str = "gold") -> pd.DataFrame:
    """n labeled examples whose label follows risk_score (plus noise); one per `step` from `start`."""
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0, 100, n)
    spf = rng.normal(0, 1, n)
    label = ((risk + rng.normal(0, 15, n)) > 50).astype(int)
    return pd.DataFrame(
        {
            "agent": agent,
            "example_id": [f"{prefix}{i:04d}" for i in range(n)],
            "source": source,
            "label": label,
            "labeled_at": [start + i * step for i in range(n)],
            "features": [json.dumps({"risk_score": float(r), "spf_dkim": float(s)}) for r, s in zip(risk, spf)],
            "confidence": 90.0,
            "source_file": "test",
            "source_row": list(range(1, n + 1)),
            "loaded_at": datetime(2030, 1, 1),
        }
    )


def insert_labels(wh: Warehouse, frame: pd.DataFrame) -> None:
    with wh.transaction() as tx:
        tx.insert_df("labels", frame)


def run(job: str, op: str, config: dict, *, ran_as: str = ALICE, instance: dg.DagsterInstance | None = None,
        tags: dict | None = None) -> dg.ExecuteInProcessResult:
    """Run a job of the code location with the environment's resources (the `runtime` fixture)."""
    from learning_loop.definitions import defs

    return defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {op: {"config": config}}},
        resources=env_resources(),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RAN_AS_TAG: ran_as, **(tags or {})},
        raise_on_error=False,
    )


def train(as_of: str, agent: str = AGENT, *, ran_as: str = ALICE, **config) -> dg.ExecuteInProcessResult:
    return run("train_bundle", "train_bundle_op", {"agent": agent, "as_of": as_of, **config}, ran_as=ran_as)


def action(action_name: str, *, ran_as: str = ALICE, **config) -> dg.ExecuteInProcessResult:
    return run("approval_action", "approval_action_op", {"action": action_name, **config}, ran_as=ran_as)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    error = failures[0].step_failure_data.error
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message


def counts(wh: Warehouse) -> dict[str, int]:
    return {t: int(wh.scalar(f"SELECT count(*) FROM {t}")) for t in ("bundles", "approvals", "canaries", "audit_log", "learning_state")}
