from datetime import datetime, timedelta

from learning_loop.domain.jobs.alerts import RunRecord, failed_run_rate, rag_pairs_growing, stale_jobs
from learning_loop.domain.jobs.catalog import JOBS

NOW = datetime(2026, 3, 2, 12, 0)


def run(job, status, hours_ago):
    t = NOW - timedelta(hours=hours_ago)
    return RunRecord(job, status, t - timedelta(minutes=1), t)


def test_failed_rate_above_5_percent_in_the_last_day():
    runs = [run("rag_training", "SUCCESS", h) for h in range(1, 20)] + [run("cleanup", "FAILURE", 2)]
    alert = failed_run_rate(runs, NOW)
    assert alert.value == 1 / 20 and not alert.firing  # exactly 5 % is not above
    alert = failed_run_rate(runs + [run("cleanup", "FAILURE", 3)], NOW)
    assert alert.firing and "2 of 21" in alert.message
    assert not failed_run_rate(runs + [run("cleanup", "FAILURE", 30)], NOW).firing  # older than a day


def test_stale_when_no_success_in_twice_the_period():
    runs = [run("rag_training", "SUCCESS", 47), run("prompt_optimization", "SUCCESS", 24 * 15),
            run("cleanup", "FAILURE", 1)]
    alert = stale_jobs(runs, JOBS, {"rag_training", "prompt_optimization", "cleanup"}, NOW)
    assert alert.firing
    assert "prompt_optimization" in alert.message and "cleanup (last success never)" in alert.message
    assert "rag_training" not in alert.message
    assert not stale_jobs(runs, JOBS, {"rag_training"}, NOW).firing  # stopped schedules are not judged


def test_rag_pairs_not_growing():
    assert not rag_pairs_growing([], NOW).firing
    assert rag_pairs_growing([NOW - timedelta(hours=49)], NOW).firing
    assert not rag_pairs_growing([NOW - timedelta(hours=49), NOW - timedelta(hours=3)], NOW).firing
