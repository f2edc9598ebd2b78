"""Per-agent configuration (`$LEARNING_LOOP_HOME/agents/<agent>.yaml`, parsed by the caller).

Recognised keys (all optional; an empty or absent file means all defaults)::

    agent: inbox_triage            # if given, must equal the file's agent
    system_prompt: "You triage ..."
    auto_promote: false            # may the guard promote on its own (default false)
    critical_judges: [gpt-4, claude-3-opus]
    bounds:                        # allowed range of a bundle parameter, inclusive
      decision_threshold: [0.1, 0.9]
      risk_score_threshold: {min: 30, max: 90}
      "*_weight": [-5, 5]          # fnmatch pattern, applies to every matching parameter
    guard:                         # per-agent overrides of the canary guard (null = global default)
      max_quality_drop: 0.05
      max_latency_rise: 0.10
      alpha: 0.01
      min_decisions_per_arm: 50

Unknown keys are an error (they are usually typos). Bounds: a parameter's
range is its exact entry, else the first matching configured pattern (in file
order), else the defaults below; a parameter with no range is unbounded.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from learning_loop.domain.validation import AGENT_PATTERN

#: Default ranges (the runbook's `risk_score_threshold` < 30 or > 90 is "extreme").
DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "decision_threshold": (0.05, 0.95),
    "risk_score_threshold": (30.0, 90.0),
    "*_weight": (-10.0, 10.0),
    "*_importance": (0.0, 1.0),
}


class AgentConfigError(ValueError):
    """An agent configuration file is invalid; the message names the file and key."""


@dataclass(frozen=True)
class AgentBounds:
    """Allowed ranges of bundle parameters: `configured` (exact names or fnmatch patterns) over
    `DEFAULT_BOUNDS`."""

    configured: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def for_param(self, param: str) -> tuple[float, float] | None:
        """The inclusive (low, high) range of `param`, or None when it is unbounded."""
        for table in (self.configured, DEFAULT_BOUNDS):
            if param in table:
                return table[param]
            for pattern, bounds in table.items():
                if any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(param, pattern):
                    return bounds
        return None

    def violations(self, thresholds: Mapping[str, float]) -> list[str]:
        """One message per parameter outside its range (or not a finite number), sorted by name."""
        problems = []
        for param in sorted(thresholds):
            value = thresholds[param]
            if not _is_number(value) or not math.isfinite(value):
                problems.append(f"{param}={value!r} is not a finite number")
                continue
            bounds = self.for_param(param)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                problems.append(f"{param}={value:g} outside [{bounds[0]:g}, {bounds[1]:g}]")
        return problems

    def all_within(self, thresholds: Mapping[str, float]) -> bool:
        return not self.violations(thresholds)


@dataclass(frozen=True)
class GuardSettings:
    """Per-agent guard overrides; None means "use the global default"."""

    max_quality_drop: float | None = None
    max_latency_rise: float | None = None
    alpha: float | None = None
    min_decisions_per_arm: int | None = None


@dataclass(frozen=True)
class AgentConfig:
    agent: str
    bounds: AgentBounds = field(default_factory=AgentBounds)
    system_prompt: str | None = None
    auto_promote: bool = False
    critical_judges: tuple[str, ...] = ()
    guard: GuardSettings = field(default_factory=GuardSettings)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Guard(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    max_quality_drop: float | None = Field(default=None, gt=0, lt=1)
    max_latency_rise: float | None = Field(default=None, gt=0)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    min_decisions_per_arm: int | None = Field(default=None, ge=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    agent: str | None = None
    system_prompt: str | None = None
    auto_promote: bool = False
    critical_judges: list[str] = Field(default_factory=list)
    bounds: dict[str, Any] = Field(default_factory=dict)
    guard: _Guard = Field(default_factory=_Guard)

    @field_validator("critical_judges")
    @classmethod
    def _check_judges(cls, value: list[str]) -> list[str]:
        if any(not j.strip() for j in value):
            raise ValueError("a judge name is empty")
        return value


def _parse_range(where: str, name: str, given: object) -> tuple[float, float]:
    """`[low, high]` or `{min: low, max: high}`: finite numbers, low <= high."""
    if isinstance(given, Mapping) and set(given) == {"min", "max"}:
        pair = [given["min"], given["max"]]
    elif isinstance(given, (list, tuple)) and len(given) == 2:
        pair = list(given)
    else:
        raise AgentConfigError(f"{where}: bounds.{name}: expected [low, high] or {{min: low, max: high}}, got {given!r}")
    if not all(_is_number(v) and math.isfinite(v) for v in pair):
        raise AgentConfigError(f"{where}: bounds.{name}: low and high must be finite numbers, got {pair!r}")
    if pair[0] > pair[1]:
        raise AgentConfigError(f"{where}: bounds.{name}: low {pair[0]:g} is above high {pair[1]:g}")
    return float(pair[0]), float(pair[1])


def parse_agent_config(agent: str, doc: Mapping[str, Any] | None, *, source: str | None = None) -> AgentConfig:
    """Parse the YAML document of `agent` (None or empty = all defaults) into an `AgentConfig`.

    Raises `AgentConfigError` naming `source` (default `agents/<agent>.yaml`) and the bad key."""
    where = source or f"agents/{agent}.yaml"
    if not isinstance(agent, str) or AGENT_PATTERN.fullmatch(agent) is None:
        raise AgentConfigError(f"{where}: invalid agent name {agent!r} (expected [a-z][a-z0-9_]*)")
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise AgentConfigError(f"{where}: expected a mapping of keys, got {type(doc).__name__}")
    try:
        parsed = _File.model_validate(dict(doc))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise AgentConfigError(f"{where}: {key or '(top level)'}: {message}") from None
    if parsed.agent is not None and parsed.agent != agent:
        raise AgentConfigError(f"{where}: agent: file says {parsed.agent!r}, expected {agent!r}")
    bounds = {name: _parse_range(where, name, given) for name, given in parsed.bounds.items()}
    return AgentConfig(
        agent=agent,
        bounds=AgentBounds(bounds),
        system_prompt=parsed.system_prompt,
        auto_promote=parsed.auto_promote,
        critical_judges=tuple(j.strip() for j in parsed.critical_judges),
        guard=GuardSettings(**parsed.guard.model_dump()),
    )


def default_agent_config(agent: str) -> AgentConfig:
    """The configuration of an agent without a file."""
    return parse_agent_config(agent, None)
