"""An agent's deployment state — one stable bundle, at most one canary — and its transitions (SPEC §10–11).

Pure data: every transition takes a :class:`Deployment` and returns a
:class:`Transition` ``(deployment, action, details)`` with the new state, the
audit-log action name (``applied``, ``force_promoted``, ``promoted``,
``rolled_back``) and a JSON-ready details dict; an invalid transition raises
:class:`CanaryError` with a one-line message and changes nothing. Storing the
state and writing the audit row is the caller's job.

Rules
-----
* ``apply_bundle(dep, bundle, 10|50, at)`` starts a canary at that percent
  (``applied``); ``100`` is a forced promotion: the bundle becomes stable at
  once (``force_promoted``). Refused while a canary is active (roll it back or
  promote it first — also for a forced promotion, so an active canary is never
  dropped silently) and when the bundle already is the stable one.
* **First bundle**: an agent without a stable bundle has nothing to compare a
  canary against and nothing to serve the other arm, so its first bundle must
  be applied with ``100`` (it becomes stable, action ``force_promoted``);
  10 or 50 is refused with a message saying so.
* ``promote(dep, 50|100, at)`` only upward from the current percent (refused
  without a canary, downward or equal). ``100`` makes the canary the stable
  bundle and clears the canary; ``50`` keeps ``deployed_at`` (the canary's
  arms still start when it was deployed, SPEC §11) and sets
  ``percent_since`` (the sample-ratio test only uses decisions routed under
  the current percent).
* ``rollback(dep, at)`` clears the canary, ``canary_percent`` 0, the stable
  bundle serves all. Refused without a canary.
* ``at`` may not be earlier than the deployment's last change
  (``updated_at``), so replayed days stay in order.

Invariant: ``canary_percent`` is 0 exactly when there is no canary; a canary
needs a stable bundle, a ``deployed_at`` and a ``percent_since``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple

from learning_loop.domain.canaries.errors import CanaryError, is_integer
from learning_loop.domain.canaries.routing import Arm, route_arm

Action = Literal["applied", "force_promoted", "promoted", "rolled_back"]
Status = Literal["empty", "stable", "canary"]

APPLY_PERCENTS = (10, 50, 100)
PROMOTE_PERCENTS = (50, 100)
AGENT_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def as_utc(value: datetime, name: str = "time") -> datetime:
    """A timezone-aware UTC datetime; a naive one is taken as UTC (SPEC §1)."""
    if not isinstance(value, datetime):
        raise CanaryError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Deployment:
    """What serves one agent: ``stable_bundle_id`` plus at most one canary.

    ``deployed_at`` is when the current canary was applied (its arms start
    there), ``percent_since`` when its ``canary_percent`` was last set, and
    ``updated_at`` the time of the last transition. All None/0 without a canary
    (``updated_at`` stays).
    """

    agent: str
    stable_bundle_id: str | None = None
    canary_bundle_id: str | None = None
    canary_percent: int = 0
    deployed_at: datetime | None = None
    percent_since: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.agent, str) or not AGENT_PATTERN.fullmatch(self.agent):
            raise CanaryError(f"agent must match [a-z][a-z0-9_]*, got {self.agent!r}")
        for name in ("deployed_at", "percent_since", "updated_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, name))
        percent = self.canary_percent
        if not is_integer(percent) or not 0 <= percent < 100:
            raise CanaryError(f"canary_percent must be an integer from 0 to 99, got {percent!r}")
        object.__setattr__(self, "canary_percent", int(percent))
        if self.canary_bundle_id is None:
            if percent != 0 or self.deployed_at is not None or self.percent_since is not None:
                raise CanaryError(
                    f"agent {self.agent} has no canary, so canary_percent must be 0 and deployed_at empty"
                )
        else:
            if self.stable_bundle_id is None:
                raise CanaryError(f"agent {self.agent} has a canary but no stable bundle")
            if percent == 0 or self.deployed_at is None or self.percent_since is None:
                raise CanaryError(
                    f"agent {self.agent}'s canary needs canary_percent > 0, deployed_at and percent_since"
                )
            if self.canary_bundle_id == self.stable_bundle_id:
                raise CanaryError(f"bundle {self.canary_bundle_id} cannot be both stable and canary")

    @classmethod
    def empty(cls, agent: str) -> Deployment:
        """An agent that has never had a bundle applied."""
        return cls(agent=agent)

    @property
    def status(self) -> Status:
        """``canary`` (a canary is active), ``stable`` (stable only) or ``empty`` (no bundle yet)."""
        if self.canary_bundle_id is not None:
            return "canary"
        return "stable" if self.stable_bundle_id is not None else "empty"

    @property
    def has_canary(self) -> bool:
        return self.canary_bundle_id is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO timestamps) including ``status``."""
        data = asdict(self)
        for name in ("deployed_at", "percent_since", "updated_at"):
            data[name] = _iso(data[name])
        data["status"] = self.status
        return data

    def active_dict(self) -> dict[str, Any]:
        """SPEC §10 ``bundles active`` view: agent, stable and canary bundle ids, canary_percent."""
        return {
            "agent": self.agent,
            "stable_bundle_id": self.stable_bundle_id,
            "canary_bundle_id": self.canary_bundle_id,
            "canary_percent": self.canary_percent,
        }


class Transition(NamedTuple):
    """The state after an action, the audit-log action name and JSON-ready details."""

    deployment: Deployment
    action: Action
    details: dict[str, Any]


def _check_time(dep: Deployment, at: datetime) -> datetime:
    at = as_utc(at, "at")
    if dep.updated_at is not None and at < dep.updated_at:
        raise CanaryError(
            f"time {at.isoformat()} is before agent {dep.agent}'s last deployment change "
            f"at {dep.updated_at.isoformat()}"
        )
    return at


def _check_percent(percent: object, allowed: tuple[int, ...], what: str) -> int:
    if not is_integer(percent) or percent not in allowed:
        choices = "|".join(str(p) for p in allowed)
        raise CanaryError(f"{what} must be one of {choices}, got {percent!r}")
    return int(percent)  # type: ignore[call-overload]


def _check_bundle_id(bundle_id: object) -> str:
    if not isinstance(bundle_id, str) or not bundle_id.strip():
        raise CanaryError(f"bundle_id must be a non-empty string, got {bundle_id!r}")
    return bundle_id


def apply_bundle(dep: Deployment, bundle_id: str, percent: int, at: datetime) -> Transition:
    """Deploy an approved bundle: a canary at 10/50 % (``applied``) or stable at once at 100 (``force_promoted``)."""
    bundle_id = _check_bundle_id(bundle_id)
    percent = _check_percent(percent, APPLY_PERCENTS, "canary percent")
    at = _check_time(dep, at)
    if dep.canary_bundle_id is not None:
        raise CanaryError(
            f"agent {dep.agent} already has a canary ({dep.canary_bundle_id} at {dep.canary_percent}%); "
            "promote or roll it back before applying another bundle"
        )
    if bundle_id == dep.stable_bundle_id:
        raise CanaryError(f"bundle {bundle_id} is already the stable bundle of agent {dep.agent}")
    if percent == 100:
        new = replace(dep, stable_bundle_id=bundle_id, updated_at=at)
        details = {
            "bundle_id": bundle_id,
            "canary_percent": 100,
            "previous_stable_bundle_id": dep.stable_bundle_id,
            "forced": True,
        }
        return Transition(new, "force_promoted", details)
    if dep.stable_bundle_id is None:
        raise CanaryError(
            f"agent {dep.agent} has no stable bundle yet, so a canary has nothing to compare against; "
            "apply its first bundle with canary percent 100"
        )
    new = replace(
        dep,
        canary_bundle_id=bundle_id,
        canary_percent=percent,
        deployed_at=at,
        percent_since=at,
        updated_at=at,
    )
    details = {"bundle_id": bundle_id, "canary_percent": percent, "stable_bundle_id": dep.stable_bundle_id}
    return Transition(new, "applied", details)


def _require_canary(dep: Deployment, verb: str) -> str:
    if dep.canary_bundle_id is None:
        raise CanaryError(f"agent {dep.agent} has no active canary to {verb}")
    return dep.canary_bundle_id


def promote(dep: Deployment, target_percent: int, at: datetime) -> Transition:
    """Raise the canary's share to 50, or to 100 which makes it the stable bundle (``promoted``)."""
    target = _check_percent(target_percent, PROMOTE_PERCENTS, "target percent")
    canary = _require_canary(dep, "promote")
    at = _check_time(dep, at)
    if target <= dep.canary_percent:
        raise CanaryError(
            f"agent {dep.agent}'s canary is already at {dep.canary_percent}%; "
            f"promotion only goes up, not to {target}%"
        )
    details = {
        "bundle_id": canary,
        "from_percent": dep.canary_percent,
        "to_percent": target,
        "deployed_at": _iso(dep.deployed_at),
    }
    if target == 100:
        new = replace(
            dep,
            stable_bundle_id=canary,
            canary_bundle_id=None,
            canary_percent=0,
            deployed_at=None,
            percent_since=None,
            updated_at=at,
        )
        details["previous_stable_bundle_id"] = dep.stable_bundle_id
    else:
        new = replace(dep, canary_percent=target, percent_since=at, updated_at=at)
    return Transition(new, "promoted", details)


def rollback(dep: Deployment, at: datetime) -> Transition:
    """Drop the canary: ``canary_percent`` 0, the stable bundle serves all (``rolled_back``)."""
    canary = _require_canary(dep, "roll back")
    at = _check_time(dep, at)
    new = replace(
        dep, canary_bundle_id=None, canary_percent=0, deployed_at=None, percent_since=None, updated_at=at
    )
    details = {
        "bundle_id": canary,
        "from_percent": dep.canary_percent,
        "stable_bundle_id": dep.stable_bundle_id,
        "deployed_at": _iso(dep.deployed_at),
    }
    return Transition(new, "rolled_back", details)


def hours_running(dep: Deployment, as_of: datetime) -> float | None:
    """Hours since the canary was deployed (0 if ``as_of`` is earlier); None without a canary."""
    if dep.deployed_at is None:
        return None
    seconds = (as_utc(as_of, "as_of") - dep.deployed_at).total_seconds()
    return max(0.0, seconds / 3600.0)


def route(dep: Deployment, key: str) -> tuple[Arm, str | None]:
    """SPEC §11 ``route``: the arm of request ``key`` and the bundle that serves it (None: no bundle yet)."""
    arm = route_arm(dep.agent, key, dep.canary_percent)
    return arm, dep.canary_bundle_id if arm == "canary" else dep.stable_bundle_id


__all__ = [
    "APPLY_PERCENTS",
    "PROMOTE_PERCENTS",
    "Action",
    "Deployment",
    "Status",
    "Transition",
    "apply_bundle",
    "as_utc",
    "hours_running",
    "promote",
    "rollback",
    "route",
]
