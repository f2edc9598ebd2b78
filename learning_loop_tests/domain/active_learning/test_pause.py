"""Pause state and the skip reason of paused schedules/sensors (SPEC §12)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from learning_loop.domain.active_learning.pause import RUNNING, PauseError, pause, resume, skip_reason


def test_running_does_not_skip():
    assert skip_reason(RUNNING) is None and skip_reason(None) is None


def test_paused_skips_with_actor_time_and_reason():
    at = datetime(2024, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    state = pause(" Investigating data quality issues ", "ops_lead", at)
    assert state.paused and state.at == datetime(2024, 1, 15, 10, 0)
    assert skip_reason(state) == "learning paused by ops_lead at 2024-01-15T10:00:00Z: Investigating data quality issues"
    resumed = resume("ops_lead", datetime(2024, 1, 16))
    assert not resumed.paused and skip_reason(resumed) is None


def test_pause_needs_reason_and_actor():
    with pytest.raises(PauseError, match="reason"):
        pause("  ", "ops_lead", datetime(2024, 1, 1))
    with pytest.raises(PauseError, match="actor"):
        pause("why", "", datetime(2024, 1, 1))
