import pytest

from learning_loop.domain.jobs.catalog import BY_NAME, JOBS, UnknownJob, job_spec


def test_spec_13_schedules_and_runbook_timeouts():
    assert [j.name for j in JOBS] == ["prompt_optimization", "rag_training", "ab_analysis", "cleanup", "learning_report"]
    assert {j.name: j.cron for j in JOBS} == {
        "prompt_optimization": "0 2 * * 1",  # Monday 02:00
        "rag_training": "0 3 * * *",  # daily 03:00
        "ab_analysis": "15 * * * *",  # hourly
        "cleanup": "0 1 * * 0",  # Sunday 01:00
        "learning_report": "0 9 * * 1",  # Monday 09:00
    }
    assert {j.name: j.timeout_s for j in JOBS} == {
        "prompt_optimization": 3600, "rag_training": 7200, "ab_analysis": 1800, "cleanup": 1800,
        "learning_report": 600}
    assert BY_NAME["ab_analysis"].schedule_name == "ab_analysis_hourly"


def test_unknown_job_names_the_choices():
    with pytest.raises(UnknownJob, match="prompt_optimization, rag_training"):
        job_spec("train_rag")
