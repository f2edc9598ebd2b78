"""Configuration in one place: every environment variable learning-loop reads.

`Settings.from_env()` reads the environment once, at an entry point (the CLI's
`main`, the code location's `definitions.py`, a test); everything below it
receives the `Settings` object (or a resource built from it) and never reads
the environment itself. The pure core (`learning_loop/domain/`) gets plain
values. The simulator builds its own `Settings` for its own home instead of
touching `os.environ`.

| variable | field | default |
|---|---|---|
| `LEARNING_LOOP_HOME` | `home` | `data/runtime` under the working directory |
| `LEARNING_LOOP_WAREHOUSE_URL` | `warehouse_url` | `duckdb:///$LEARNING_LOOP_HOME/warehouse.duckdb` |
| `DAGSTER_HOME` | `dagster_home` | `$LEARNING_LOOP_HOME/dagster` |
| `LEARNING_LOOP_START_DATE` | `start_date` | `2024-01-01` |
| `LEARNING_LOOP_END_DATE` | `end_date` | none (partitions up to yesterday) |
| `AB_TEST_SIGNIFICANCE_LEVEL` | `ab_test_significance_level` | 0.95 |
| `LEARNING_LOOP_AB_MIN_N` | `ab_min_n` | 5 |
| `LEARNING_LOOP_AB_MAX_DAYS` | `ab_max_days` | 28 |
| `LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE` | `gate_min_engagement_rate` | 0.02 (`off` disables) |
| `LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH` | `gate_min_follow_through` | 0.0 (`off` disables) |
| `LEARNING_LOOP_PLAN_PROJECTS` | `plan_projects` | none (comma-separated) |
| `LEARNING_LOOP_PLAN_COUNT` | `plan_count` | 5 |
| `LEARNING_LOOP_PLANNER` | `planner` | `model` (the Bayesian additive planner; `ranking` = the issue-3 planner) |
| `LEARNING_LOOP_PLAN_MAX_EXPERIMENTS` | `plan_max_experiments` | auto (sized from the project's recent daily jobs) |
| `LEARNING_LOOP_DUCKDB_LOCK_TIMEOUT` | `duckdb_lock_timeout_s` | 600 |
| `LEARNING_LOOP_LANDING_SETTLE_SECONDS` | `landing_settle_s` | 10 (a landing file loads once unchanged this long; 0 = at once) |
| `LEARNING_LOOP_SQL_DIR` | `sql_dir` | the package's `dbt_like_sql/` |
| `LEARNING_LOOP_BUNDLE_MIN_NEW_LABELS` | `bundle_min_new_labels` | 20 (nightly bundle training) |
| `LEARNING_LOOP_BUNDLE_AUTO_PROPOSE` | `bundle_auto_propose` | on (nightly bundles proposed as `system`) |
| `LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL` | `allow_same_operator_approval` | off (single-operator installs) |
| `OPENAI_API_KEY`, `LEARNING_LOOP_LLM_BASE_URL`, `LEARNING_LOOP_LLM_MODEL` | `openai_api_key`, `llm_base_url`, `llm_model` | none (prompt optimization skipped) |
| `LEARNING_LOOP_LLM_TIMEOUT`, `LEARNING_LOOP_LLM_MAX_RETRIES` | `llm_timeout_s`, `llm_max_retries` | 60 s, 3 |
| `RAG_TRAINING_MIN_SAMPLES` | `rag_training_min_samples` | 1000 |
| `FEEDBACK_RETENTION_DAYS` | `feedback_retention_days` | 180 |
| `LEARNING_LOOP_SMTP_HOST`, `_PORT`, `_FROM`, `_TO` | `smtp_*` | unset (weekly report not mailed), 25, `learning-loop@localhost`, none |
| `LEARNING_LOOP_EXECUTOR` | `executor` | `in_process` (`multiprocess`, `celery`) |
| `LEARNING_LOOP_CELERY_BROKER`, `_BACKEND`, `_QUEUE` | `celery_*` | `pyamqp://guest@127.0.0.1//`, `rpc://`, `dagster` |
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_START_DATE = "2024-01-01"
#: Landing kinds of the video loop (runbooks 000–002): loaded by `ingest_landing`, never paused.
VIDEO_LANDING_KINDS: tuple[str, ...] = ("videos", "metrics")
#: Landing kinds of active learning (runbook 003, SPEC §9): loaded by `load_feeds`, paused with learning.
FEED_LANDING_KINDS: tuple[str, ...] = ("labels", "judgments", "decisions", "retrieval_pairs")
#: Every landing kind, in processing order (`$LEARNING_LOOP_HOME/landing/<kind>/`).
LANDING_KINDS: tuple[str, ...] = VIDEO_LANDING_KINDS + FEED_LANDING_KINDS
#: Executors a deployment can pick with `LEARNING_LOOP_EXECUTOR`.
EXECUTORS: tuple[str, ...] = ("in_process", "multiprocess", "celery")


def _env(name: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(name))


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


class Settings(BaseSettings):
    """Every `LEARNING_LOOP_*`, `AB_TEST_*` and related variable, typed and validated."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True)

    home_raw: str | None = _env("LEARNING_LOOP_HOME")
    warehouse_url_raw: str | None = _env("LEARNING_LOOP_WAREHOUSE_URL")
    dagster_home_raw: str | None = _env("DAGSTER_HOME")
    start_date_raw: str | None = _env("LEARNING_LOOP_START_DATE")
    end_date_raw: str | None = _env("LEARNING_LOOP_END_DATE")
    ab_level_raw: str | None = _env("AB_TEST_SIGNIFICANCE_LEVEL")
    ab_min_n_raw: str | None = _env("LEARNING_LOOP_AB_MIN_N")
    ab_max_days_raw: str | None = _env("LEARNING_LOOP_AB_MAX_DAYS")
    gate_engagement_raw: str | None = _env("LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE")
    gate_follow_raw: str | None = _env("LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH")
    plan_projects_raw: str | None = _env("LEARNING_LOOP_PLAN_PROJECTS")
    plan_count_raw: str | None = _env("LEARNING_LOOP_PLAN_COUNT")
    planner_raw: str | None = _env("LEARNING_LOOP_PLANNER")
    plan_max_experiments_raw: str | None = _env("LEARNING_LOOP_PLAN_MAX_EXPERIMENTS")
    duckdb_lock_timeout_raw: str | None = _env("LEARNING_LOOP_DUCKDB_LOCK_TIMEOUT")
    landing_settle_raw: str | None = _env("LEARNING_LOOP_LANDING_SETTLE_SECONDS")
    sql_dir_raw: str | None = _env("LEARNING_LOOP_SQL_DIR")
    bundle_min_new_labels_raw: str | None = _env("LEARNING_LOOP_BUNDLE_MIN_NEW_LABELS")
    bundle_auto_propose_raw: str | None = _env("LEARNING_LOOP_BUNDLE_AUTO_PROPOSE")
    allow_same_operator_approval_raw: str | None = _env("LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL")
    # background learning jobs (SPEC §13, runbook 002)
    openai_api_key_raw: str | None = _env("OPENAI_API_KEY")
    llm_base_url_raw: str | None = _env("LEARNING_LOOP_LLM_BASE_URL")
    llm_model_raw: str | None = _env("LEARNING_LOOP_LLM_MODEL")
    llm_timeout_raw: str | None = _env("LEARNING_LOOP_LLM_TIMEOUT")
    llm_max_retries_raw: str | None = _env("LEARNING_LOOP_LLM_MAX_RETRIES")
    rag_training_min_samples_raw: str | None = _env("RAG_TRAINING_MIN_SAMPLES")
    feedback_retention_days_raw: str | None = _env("FEEDBACK_RETENTION_DAYS")
    smtp_host_raw: str | None = _env("LEARNING_LOOP_SMTP_HOST")
    smtp_port_raw: str | None = _env("LEARNING_LOOP_SMTP_PORT")
    smtp_from_raw: str | None = _env("LEARNING_LOOP_SMTP_FROM")
    smtp_to_raw: str | None = _env("LEARNING_LOOP_SMTP_TO")
    # distributed execution (learning_loop/orchestration/executor.py)
    executor_raw: str | None = _env("LEARNING_LOOP_EXECUTOR")
    celery_broker_raw: str | None = _env("LEARNING_LOOP_CELERY_BROKER")
    celery_backend_raw: str | None = _env("LEARNING_LOOP_CELERY_BACKEND")
    celery_queue_raw: str | None = _env("LEARNING_LOOP_CELERY_QUEUE")
    cwd: str = Field(default_factory=lambda: str(Path.cwd()))

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment (once, at an entry point)."""
        try:
            return cls()
        except ValidationError as exc:  # pragma: no cover - every field is a plain string
            raise SettingsError(str(exc).splitlines()[0]) from None

    @classmethod
    def for_home(cls, home: Path, **overrides: str) -> Settings:
        """Settings of a self-contained runtime folder (the simulator's): its own
        DuckDB warehouse and Dagster instance, nothing read from the environment. Its landing
        files are written whole by the same program, so they load at once (settle window 0)."""
        home = Path(home).resolve()
        values = {"home_raw": str(home), "warehouse_url_raw": f"duckdb:///{home / 'warehouse.duckdb'}",
                  "dagster_home_raw": str(home / "dagster"), "landing_settle_raw": "0", **overrides}
        fields = {name: None for name in cls.model_fields}
        fields.update(values, cwd=str(home))
        return cls.model_construct(**fields)

    # ------------------------------------------------------------------ runtime layout (SPEC §1)

    @property
    def home(self) -> Path:
        return Path(self.home_raw).resolve() if self.home_raw else (Path(self.cwd) / "data" / "runtime").resolve()

    def landing_dir(self, kind: str | None = None) -> Path:
        base = self.home / "landing"
        return base / kind if kind else base

    @property
    def topics_dir(self) -> Path:
        return self.home / "topics"

    @property
    def warehouse_url(self) -> str:
        return self.warehouse_url_raw or f"duckdb:///{self.home / 'warehouse.duckdb'}"

    @property
    def warehouse_url_from_env(self) -> bool:
        return self.warehouse_url_raw is not None

    @property
    def warehouse_kind(self) -> str:
        return "duckdb" if self.warehouse_url.startswith("duckdb") else "postgres"

    @property
    def dagster_home(self) -> Path:
        return Path(self.dagster_home_raw).resolve() if self.dagster_home_raw else self.home / "dagster"

    @property
    def start_date(self) -> str:
        value = self.start_date_raw or DEFAULT_START_DATE
        try:
            date.fromisoformat(value)
        except ValueError:
            raise SettingsError(f"LEARNING_LOOP_START_DATE must be YYYY-MM-DD, got {value!r}") from None
        return value

    @property
    def end_date(self) -> str | None:
        """`LEARNING_LOOP_END_DATE`: the day after the last daily partition (exclusive), for a deployment
        over historical data such as the sample data; unset, partitions run up to yesterday."""
        if not self.end_date_raw:
            return None
        try:
            end = date.fromisoformat(self.end_date_raw)
        except ValueError:
            raise SettingsError(f"LEARNING_LOOP_END_DATE must be YYYY-MM-DD, got {self.end_date_raw!r}") from None
        if end <= date.fromisoformat(self.start_date):
            raise SettingsError(f"LEARNING_LOOP_END_DATE {end} must be after LEARNING_LOOP_START_DATE {self.start_date}")
        return end.isoformat()

    @property
    def sql_dir(self) -> Path | None:
        return Path(self.sql_dir_raw) if self.sql_dir_raw else None

    @property
    def duckdb_lock_timeout_s(self) -> float:
        return _number("LEARNING_LOOP_DUCKDB_LOCK_TIMEOUT", self.duckdb_lock_timeout_raw, 600.0, minimum=0.0)

    @property
    def landing_settle_s(self) -> float:
        """`LEARNING_LOOP_LANDING_SETTLE_SECONDS`: a landing file is loaded (and seen by the sensors) only
        once its size and modification time have not changed for this many seconds, so a file still
        being written is never loaded half (default 10; 0 loads at once)."""
        return _number("LEARNING_LOOP_LANDING_SETTLE_SECONDS", self.landing_settle_raw, 10.0, minimum=0.0)

    # ------------------------------------------------------------------ experiments (SPEC §6)

    @property
    def ab_level(self) -> float:
        """`AB_TEST_SIGNIFICANCE_LEVEL`, a number in (0, 1)."""
        from learning_loop.domain.experiments import parse_level

        try:
            return parse_level(self.ab_level_raw)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

    @property
    def ab_min_n(self) -> int:
        return _whole("LEARNING_LOOP_AB_MIN_N", self.ab_min_n_raw, 5, minimum=2)

    @property
    def ab_max_days(self) -> int:
        return _whole("LEARNING_LOOP_AB_MAX_DAYS", self.ab_max_days_raw, 28, minimum=1)

    # ------------------------------------------------------------------ planning

    @property
    def gate_min_engagement_rate(self) -> float | None:
        return _threshold("LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE", self.gate_engagement_raw, 0.02)

    @property
    def gate_min_follow_through(self) -> float | None:
        return _threshold("LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH", self.gate_follow_raw, 0.0)

    @property
    def plan_projects(self) -> list[str]:
        return [p.strip() for p in (self.plan_projects_raw or "").split(",") if p.strip()]

    @property
    def plan_count(self) -> int:
        return _whole("LEARNING_LOOP_PLAN_COUNT", self.plan_count_raw, 5, minimum=1)

    @property
    def planner(self) -> str:
        """Which planner plan-next uses: `model` (default) or `ranking`."""
        value = (self.planner_raw or "model").strip().lower()
        if value not in ("model", "ranking"):
            raise ValueError(f"LEARNING_LOOP_PLANNER must be model or ranking, got {self.planner_raw!r}")
        return value

    @property
    def plan_max_experiments(self) -> int:
        """Running experiments still collecting their minimum n per project; 0 = sized automatically."""
        raw = (self.plan_max_experiments_raw or "").strip().lower()
        if raw in ("", "auto"):
            return 0
        return _whole("LEARNING_LOOP_PLAN_MAX_EXPERIMENTS", raw, 0, minimum=1)

    # ------------------------------------------------------------------ bundles and approvals (SPEC §10)

    @property
    def bundle_min_new_labels(self) -> int:
        """New label rows since an agent's last bundle before the nightly schedule trains another."""
        return _whole("LEARNING_LOOP_BUNDLE_MIN_NEW_LABELS", self.bundle_min_new_labels_raw, 20, minimum=1)

    @property
    def bundle_auto_propose(self) -> bool:
        """Whether the nightly schedule proposes the bundles it trains (proposer `system`)."""
        return _flag("LEARNING_LOOP_BUNDLE_AUTO_PROPOSE", self.bundle_auto_propose_raw, True)

    @property
    def allow_same_operator_approval(self) -> bool:
        """Allow approving a proposal made from the same OS user@host (single-operator installs, demos)."""
        return _flag("LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL", self.allow_same_operator_approval_raw, False)

    # ------------------------------------------------------------------ background learning jobs (SPEC §13)

    @property
    def openai_api_key(self) -> str | None:
        """`OPENAI_API_KEY` (a local OpenAI-compatible server may need none: then any value works)."""
        return self.openai_api_key_raw

    @property
    def llm_base_url(self) -> str | None:
        """`LEARNING_LOOP_LLM_BASE_URL`: an OpenAI-compatible endpoint (`.../v1`); unset with a key = OpenAI's."""
        return self.llm_base_url_raw.strip() if self.llm_base_url_raw else None

    @property
    def llm_model(self) -> str | None:
        return self.llm_model_raw.strip() if self.llm_model_raw else None

    @property
    def llm_timeout_s(self) -> float:
        return _number("LEARNING_LOOP_LLM_TIMEOUT", self.llm_timeout_raw, 60.0, minimum=0.1)

    @property
    def llm_max_retries(self) -> int:
        return _whole("LEARNING_LOOP_LLM_MAX_RETRIES", self.llm_max_retries_raw, 3, minimum=0)

    @property
    def rag_training_min_samples(self) -> int:
        return _whole("RAG_TRAINING_MIN_SAMPLES", self.rag_training_min_samples_raw, 1000, minimum=1)

    @property
    def feedback_retention_days(self) -> int:
        return _whole("FEEDBACK_RETENTION_DAYS", self.feedback_retention_days_raw, 180, minimum=1)

    @property
    def smtp_host(self) -> str | None:
        """`LEARNING_LOOP_SMTP_HOST`: unset = the weekly report is not mailed (default)."""
        return self.smtp_host_raw.strip() if self.smtp_host_raw else None

    @property
    def smtp_port(self) -> int:
        return _whole("LEARNING_LOOP_SMTP_PORT", self.smtp_port_raw, 25, minimum=1)

    @property
    def smtp_from(self) -> str:
        return (self.smtp_from_raw or "learning-loop@localhost").strip()

    @property
    def smtp_to(self) -> list[str]:
        return [a.strip() for a in (self.smtp_to_raw or "").split(",") if a.strip()]

    # ------------------------------------------------------------------ distributed execution

    @property
    def executor(self) -> str:
        """`LEARNING_LOOP_EXECUTOR`: how the code location's runs execute their steps:
        `in_process` (default), `multiprocess` (one process per step) or `celery` (steps on Celery workers)."""
        value = (self.executor_raw or "in_process").strip().lower().replace("-", "_")
        if value not in EXECUTORS:
            raise SettingsError(f"LEARNING_LOOP_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {self.executor_raw!r}")
        return value

    @property
    def celery_broker(self) -> str:
        """`LEARNING_LOOP_CELERY_BROKER`: the Celery broker URL (default RabbitMQ on this machine)."""
        return (self.celery_broker_raw or "pyamqp://guest@127.0.0.1//").strip()

    @property
    def celery_backend(self) -> str:
        """`LEARNING_LOOP_CELERY_BACKEND`: the Celery result backend (default `rpc://`, over the broker)."""
        return (self.celery_backend_raw or "rpc://").strip()

    @property
    def celery_queue(self) -> str:
        """`LEARNING_LOOP_CELERY_QUEUE`: the queue steps are sent to and workers listen on (default `dagster`)."""
        return (self.celery_queue_raw or "dagster").strip()


def _flag(name: str, raw: str | None, default: bool) -> bool:
    """on/off, true/false, yes/no, 1/0."""
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be on or off (true/false, 1/0), got {raw!r}")


def _whole(name: str, raw: str | None, default: int, minimum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _number(name: str, raw: str | None, default: float, minimum: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise SettingsError(f"{name} must be a finite number >= {minimum:g}, got {raw!r}")
    return value


def _threshold(name: str, raw: str | None, default: float | None) -> float | None:
    """A number, or `none`/`off` to disable."""
    if raw is None:
        return default
    if raw.strip().lower() in ("none", "off"):
        return None
    try:
        number = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number or 'off', got {raw!r}") from None
    if not math.isfinite(number):
        raise SettingsError(f"{name} must be finite, got {raw!r}")
    return number
