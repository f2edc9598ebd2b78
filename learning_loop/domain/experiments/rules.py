"""Decision rules frozen onto an experiment when it is created: significance level,
minimum videos per arm and maximum duration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Settings key of the significance level (read by the shell, passed in as a mapping).
LEVEL_ENV_VAR = "AB_TEST_SIGNIFICANCE_LEVEL"
DEFAULT_LEVEL = 0.95


def _check_level(level: float) -> float:
    """Return ``level`` as a float, or raise ValueError unless it is a number in (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise ValueError(f"significance level must be a number in (0, 1), got {level!r}")
    value = float(level)
    if not (0.0 < value < 1.0):  # also rejects NaN
        hint = f" (did you mean {value / 100:g}?)" if 1.0 < value < 100.0 else ""
        raise ValueError(f"significance level must be in (0, 1), got {level!r}{hint}")
    return value


def parse_level(text: str | None) -> float:
    """Parse an ``AB_TEST_SIGNIFICANCE_LEVEL`` value; unset or blank means 0.95."""
    if text is None or not text.strip():
        return DEFAULT_LEVEL
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(
            f"{LEVEL_ENV_VAR} must be a number in (0, 1) such as 0.95, got {text!r}"
        ) from None
    try:
        return _check_level(value)
    except ValueError as exc:
        raise ValueError(f"{LEVEL_ENV_VAR}: {exc}") from None


@dataclass(frozen=True)
class ExperimentRules:
    """Decision rules, frozen onto an experiment when it is created."""

    level: float = DEFAULT_LEVEL
    min_n_per_arm: int = 5
    max_duration_days: int = 28

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _check_level(self.level))
        if isinstance(self.min_n_per_arm, bool) or not isinstance(self.min_n_per_arm, int):
            raise ValueError(f"min_n_per_arm must be an int, got {self.min_n_per_arm!r}")
        if self.min_n_per_arm < 2:
            raise ValueError(f"min_n_per_arm must be at least 2, got {self.min_n_per_arm}")
        if isinstance(self.max_duration_days, bool) or not isinstance(self.max_duration_days, int):
            raise ValueError(f"max_duration_days must be an int, got {self.max_duration_days!r}")
        if self.max_duration_days < 1:
            raise ValueError(f"max_duration_days must be at least 1, got {self.max_duration_days}")

    @property
    def alpha(self) -> float:
        """Allowed false-positive rate, ``1 - level``."""
        return 1.0 - self.level

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, str],
        *,
        min_n_per_arm: int = 5,
        max_duration_days: int = 28,
    ) -> ExperimentRules:
        """Rules with the level read from ``values["AB_TEST_SIGNIFICANCE_LEVEL"]`` (default 0.95).

        ``values`` is the caller's settings mapping (the shell passes the process environment).
        """
        return cls(
            level=parse_level(values.get(LEVEL_ENV_VAR)),
            min_n_per_arm=min_n_per_arm,
            max_duration_days=max_duration_days,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for storing the frozen rules with the experiment."""
        return asdict(self)


__all__ = ["DEFAULT_LEVEL", "LEVEL_ENV_VAR", "ExperimentRules", "parse_level"]
