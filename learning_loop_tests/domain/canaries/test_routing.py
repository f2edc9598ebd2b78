"""Deterministic routing: hand-computed sha256 buckets (SPEC §11)."""

from __future__ import annotations

import pytest

from learning_loop.domain.canaries import CanaryError, route_arm, route_bucket

# Computed once with hashlib:
#   sha256(b"inbox_triage:user-1").hexdigest()[:8] = "89ad8d2e" = 2309852462 -> % 100 = 62
#   sha256(b"inbox_triage:user-2").hexdigest()[:8] = "8c510167" = 2354119015 -> 15
#   sha256(b"inbox_triage:k39").hexdigest()[:8]    = "501e3fd4" = 1344159700 -> 0
#   sha256(b"inbox_triage:k31").hexdigest()[:8]    = "b062fcf5" = 2959277301 -> 1
#   sha256(b"inbox_triage:k26").hexdigest()[:8]    = "2f6e040d" =  795739149 -> 49
#   sha256(b"post_gate:abc").hexdigest()[:8]       = "1c6cb99b" =  476887451 -> 51
#   sha256(b"post_gate:req-42").hexdigest()[:8]    = "739db411" = 1939715089 -> 89
BUCKETS = [
    ("inbox_triage", "user-1", 62),
    ("inbox_triage", "user-2", 15),
    ("inbox_triage", "k39", 0),
    ("inbox_triage", "k31", 1),
    ("inbox_triage", "k26", 49),
    ("post_gate", "abc", 51),
    ("post_gate", "req-42", 89),
]


@pytest.mark.parametrize(("agent", "key", "bucket"), BUCKETS)
def test_bucket_matches_hand_computed_value(agent: str, key: str, bucket: int) -> None:
    assert route_bucket(agent, key) == bucket


@pytest.mark.parametrize(("agent", "key", "bucket"), BUCKETS)
def test_canary_iff_bucket_below_percent(agent: str, key: str, bucket: int) -> None:
    for percent in (0, 10, 50, 100):
        expected = "canary" if bucket < percent else "stable"
        assert route_arm(agent, key, percent) == expected


def test_boundaries() -> None:
    assert route_arm("inbox_triage", "k39", 0) == "stable"  # bucket 0, percent 0
    assert route_arm("inbox_triage", "k39", 1) == "canary"
    assert route_arm("inbox_triage", "k26", 49) == "stable"  # bucket 49 is not < 49
    assert route_arm("inbox_triage", "k26", 50) == "canary"
    # the agent is part of the hash: same key, different agents, different buckets
    assert route_bucket("post_gate", "user-1") != route_bucket("inbox_triage", "user-1")


@pytest.mark.parametrize("percent", [-1, 101, 10.0, True, "10"])
def test_bad_percent(percent: object) -> None:
    with pytest.raises(CanaryError, match="canary_percent"):
        route_arm("inbox_triage", "user-1", percent)  # type: ignore[arg-type]
