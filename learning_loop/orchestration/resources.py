"""Resources: the warehouse (DuckDB file or PostgreSQL, chosen by URL) and the runtime folder."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from learning_loop.domain.experiments import ExperimentRules
from learning_loop.orchestration.llm import LLMResource
from learning_loop.orchestration.mail import MailerResource
from learning_loop.settings import Settings
from learning_loop.stores.models import GateConfig
from learning_loop.stores.planning import PlanningOptions
from learning_loop.warehouse.backend import Warehouse, open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """`url`: `duckdb:///<path>` or a SQLAlchemy PostgreSQL URL."""

    url: str
    lock_timeout_s: float = 600.0
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.url, lock_timeout_s=self.lock_timeout_s)
            self._warehouse.ensure_schema()
        return self._warehouse


class RuntimeResource(dg.ConfigurableResource):
    """The runtime settings a run uses: `LEARNING_LOOP_HOME` (landing zone, topics files and other
    runtime folders), the experiment rules frozen onto new experiments and the prediction gate."""

    home: str
    ab_level: float = 0.95
    ab_min_n: int = 5
    ab_max_days: int = 28
    gate_min_engagement_rate: float | None = 0.02
    gate_min_follow_through: float | None = 0.0
    plan_projects: list[str] = []
    plan_count: int = 5
    planner: str = "model"
    plan_max_experiments: int = 0  # 0 = sized from the project's volume
    bundle_min_new_labels: int = 20
    bundle_auto_propose: bool = True
    allow_same_operator_approval: bool = False
    rag_training_min_samples: int = 1000
    feedback_retention_days: int = 180
    #: seconds a landing file must be unchanged before it loads (`LEARNING_LOOP_LANDING_SETTLE_SECONDS`;
    #: the deployment default, 10, comes from the settings; 0 here for resources built by hand)
    landing_settle_s: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeResource:
        return cls(
            home=str(settings.home),
            ab_level=settings.ab_level,
            ab_min_n=settings.ab_min_n,
            ab_max_days=settings.ab_max_days,
            gate_min_engagement_rate=settings.gate_min_engagement_rate,
            gate_min_follow_through=settings.gate_min_follow_through,
            plan_projects=settings.plan_projects,
            plan_count=settings.plan_count,
            planner=settings.planner,
            plan_max_experiments=settings.plan_max_experiments,
            bundle_min_new_labels=settings.bundle_min_new_labels,
            bundle_auto_propose=settings.bundle_auto_propose,
            allow_same_operator_approval=settings.allow_same_operator_approval,
            rag_training_min_samples=settings.rag_training_min_samples,
            feedback_retention_days=settings.feedback_retention_days,
            landing_settle_s=settings.landing_settle_s,
        )

    def experiment_rules(self) -> ExperimentRules:
        return ExperimentRules(level=self.ab_level, min_n_per_arm=self.ab_min_n, max_duration_days=self.ab_max_days)

    def planning(self) -> PlanningOptions:
        return PlanningOptions(
            planner=self.planner,
            max_experiments=self.plan_max_experiments,
            min_n=self.ab_min_n,
        )

    def gate(self) -> GateConfig:
        return GateConfig(min_engagement_rate=self.gate_min_engagement_rate, min_follow_through=self.gate_min_follow_through)

    @property
    def root(self) -> Path:
        return Path(self.home)

    def landing_dir(self, kind: str | None = None) -> Path:
        base = self.root / "landing"
        return base / kind if kind else base

    @property
    def topics_dir(self) -> Path:
        return self.root / "topics"


def resources_for(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources of a run launched with these settings (the CLI's, a test's, the simulator's)."""
    return {
        "warehouse": WarehouseResource(url=settings.warehouse_url, lock_timeout_s=settings.duckdb_lock_timeout_s),
        "runtime": RuntimeResource.from_settings(settings),
        "llm": LLMResource.from_settings(settings),
        "mailer": MailerResource.from_settings(settings),
    }


def location_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources bound to the code location: an `EnvVar` where the variable is set, so the
    UI shows where a value comes from and a secret in a URL is not written into run config."""
    resources = resources_for(settings)
    if settings.warehouse_url_from_env:
        resources["warehouse"] = WarehouseResource(
            url=dg.EnvVar("LEARNING_LOOP_WAREHOUSE_URL"), lock_timeout_s=settings.duckdb_lock_timeout_s
        )
    if settings.openai_api_key:
        resources["llm"] = LLMResource(
            base_url=settings.llm_base_url, api_key=dg.EnvVar("OPENAI_API_KEY"), model=settings.llm_model,
            timeout_s=settings.llm_timeout_s, max_retries=settings.llm_max_retries,
        )
    return resources
