"""Shared by the background-job tests: resources and a one-asset materialization."""

from pathlib import Path

import dagster as dg

from learning_loop.orchestration.llm import LLMResource
from learning_loop.orchestration.mail import MailerResource
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource


def job_resources(url: str, home: Path, llm: LLMResource | None = None, mailer: MailerResource | None = None,
                  **runtime) -> dict:
    return {"warehouse": WarehouseResource(url=url), "runtime": RuntimeResource(home=str(home), **runtime),
            "llm": llm or LLMResource(), "mailer": mailer or MailerResource()}


def materialize(asset, resources: dict, as_of: str | None = None, instance=None, partition_key=None,
                raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    name = asset.key.to_user_string()
    config = {"ops": {name: {"config": {"as_of": as_of}}}} if as_of else None
    return dg.materialize([asset], resources=resources, run_config=config, partition_key=partition_key,
                          instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    mats = result.asset_materializations_for_node(result.all_node_events[0].node_name)
    return {k: v.value for k, v in mats[-1].metadata.items()}
