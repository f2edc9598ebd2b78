"""`learning-loop arms` and `learning-loop predictors`: JSON shape, text output, unknown project."""

from __future__ import annotations

import json
import math
from datetime import date, datetime

import pandas as pd
import pytest

from learning_loop import cli
from learning_loop.defs.bandits.arms import BanditConfig
from learning_loop.defs.bandits.arms import write_partition as write_arms
from learning_loop.domain.bandits import arm_table
from learning_loop.domain.predictors import train_ridge
from learning_loop_tests.helpers import load, video

P = "p1"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(runtime, warehouse):
    load(warehouse, videos=[video(P, "v1", datetime(2024, 1, 5, 14), content_type="edu")])
    return warehouse


def test_arms_json_and_text(project, capsys):
    code, out, _ = run_cli(capsys, "arms", "--project", P, "--json")
    assert code == 0 and json.loads(out) == {
        "project_id": P, "partition_date": None, "window_days": None, "success_threshold": None, "arms": []
    }
    assert "no bandit arms" in run_cli(capsys, "arms", "--project", P)[1]

    frame = pd.DataFrame({"project_id": P, "content_type": ["edu", "edu", "fact"],
                          "published_at": [datetime(2024, 1, 5, 14)] * 3, "engagement_rate": [0.05, 0.01, 0.2]})
    for partition in ("2024-01-09", "2024-01-10"):
        with project.transaction() as tx:
            write_arms(tx, date.fromisoformat(partition), arm_table(frame), BanditConfig())
    code, out, _ = run_cli(capsys, "arms", "--project", P, "--json")
    payload = json.loads(out)
    assert code == 0 and payload["partition_date"] == "2024-01-10"
    assert (payload["window_days"], payload["success_threshold"]) == (7, 0.03)
    arms = payload["arms"]
    assert [a["arm"] for a in arms[:2]] == ["content_edu", "content_fact"]  # content first, then hours
    assert [a["hour"] for a in arms[2:]] == list(range(24))
    assert set(arms[0]) == {"arm_type", "arm", "hour", "pulls", "successes", "failures", "alpha", "beta",
                            "mean", "posterior_sd", "ucb1", "untried"}
    edu = arms[0]
    assert (edu["pulls"], edu["successes"], edu["alpha"], edu["beta"], edu["ucb1"]) == (2, 1, 2.0, 2.0, None)
    t14, t00 = arms[2 + 14], arms[2]
    assert t14["pulls"] == 3 and t14["ucb1"] == pytest.approx(2 / 3 + math.sqrt(2 * math.log(3) / 3))
    assert t00["untried"] is True and t00["ucb1"] is None  # +inf is not JSON: null, untried
    code, out, _ = run_cli(capsys, "arms", "--project", P)
    assert code == 0 and "content_edu" in out and "untried" in out and "2024-01-10" in out


def test_predictors_json_and_text(project, capsys):
    code, out, _ = run_cli(capsys, "predictors", "--project", P, "--json")
    assert code == 0 and json.loads(out)["versions"] == []
    assert json.loads(out)["latest"] == {"ridge_engagement_rate": None, "logistic_follow_through": None}

    training = pd.DataFrame({"published_at": pd.date_range("2024-01-01", periods=25, freq="9h", tz="UTC"),
                             "quality_score": [i / 25 for i in range(25)],
                             "engagement_rate": [0.01 + 0.002 * i for i in range(25)]})
    ridge = train_ridge(training, alphas=(1.0,), cv=2)
    rows = [
        {"partition_date": date(2024, 1, 10), "project_id": P, "model": "ridge_engagement_rate",
         "version_id": "ridge_engagement_rate:p1:2024-01-10", "status": "trained", "trained_at": datetime(2024, 1, 11, 2),
         "n_train": ridge.n_train, "n_holdout": ridge.n_holdout, "r2": ridge.r2, "mae": ridge.mae,
         "baseline_mae": ridge.baseline_mae, "intercept": ridge.intercept,
         "coefficients": json.dumps(ridge.coefficients), "hyperparameters": json.dumps({"alpha": ridge.alpha}),
         "model_json": json.dumps(ridge.to_dict())},
        {"partition_date": date(2024, 1, 11), "project_id": P, "model": "ridge_engagement_rate",
         "version_id": "ridge_engagement_rate:p1:2024-01-11", "status": "skipped",
         "skip_reason": "ridge: only 4 usable rows after cleaning, need at least 20", "trained_at": datetime(2024, 1, 12, 2),
         "hyperparameters": json.dumps({"min_rows": 20})},
        {"partition_date": date(2024, 1, 11), "project_id": P, "model": "logistic_follow_through",
         "version_id": "logistic_follow_through:p1:2024-01-11", "status": "skipped",
         "skip_reason": "logistic: only 4 usable rows", "trained_at": datetime(2024, 1, 12, 2)},
    ]
    with project.transaction() as tx:
        tx.insert_df("predictor_coefficients", pd.DataFrame(rows))
    code, out, _ = run_cli(capsys, "predictors", "--project", P, "--json")
    payload = json.loads(out)
    assert code == 0 and payload["project_id"] == P
    assert payload["latest"] == {"ridge_engagement_rate": "ridge_engagement_rate:p1:2024-01-10",
                                 "logistic_follow_through": None}
    versions = payload["versions"]
    assert [(v["partition_date"], v["model"], v["status"]) for v in versions] == [
        ("2024-01-11", "logistic_follow_through", "skipped"),
        ("2024-01-11", "ridge_engagement_rate", "skipped"),
        ("2024-01-10", "ridge_engagement_rate", "trained"),
    ]
    trained = versions[2]
    assert trained["coefficients"]["quality_score"] == pytest.approx(ridge.coefficients["quality_score"])
    assert trained["n_train"] == ridge.n_train and trained["r2"] == pytest.approx(ridge.r2)
    assert trained["hyperparameters"] == {"alpha": ridge.alpha} and trained["auc"] is None
    assert "need at least 20" in versions[1]["skip_reason"] and versions[0]["coefficients"] is None
    assert len(json.loads(run_cli(capsys, "predictors", "--project", P, "--limit", "1", "--json")[1])["versions"]) == 2
    code, out, _ = run_cli(capsys, "predictors", "--project", P)
    assert code == 0 and "skipped: ridge: only 4" in out and "r2=" in out


@pytest.mark.parametrize("command", ["arms", "predictors"])
def test_unknown_project_exits_2(project, capsys, command):
    code, out, err = run_cli(capsys, command, "--project", "nope", "--json")
    assert code == 2 and out == ""
    assert "unknown project 'nope'" in err and len(err.strip().splitlines()) == 1
