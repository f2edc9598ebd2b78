"""Prompt bundles from a prompt-optimization run's details (pure)."""

from datetime import datetime

import pytest

from learning_loop.domain.active_learning.prompt_bundles import (
    PromptBundleError,
    choose_variant,
    is_prompt_bundle,
    prompt_bundle,
    prompt_diff,
    prompt_reverted_change,
    system_prompt_of,
)
from learning_loop.domain.active_learning.training import TrainedBundle

AT = datetime(2026, 3, 3, 12, 30, 5)


def score(f1: float, em: float = 0.0, n: int = 4) -> dict:
    return {"n": n, "token_f1": f1, "exact_match": em}


DETAILS = {
    "as_of": "2026-03-02T02:00:00",
    "prompts": {"current": "Be brief.", "clarified": "Be brief and exact.", "few_shot": "Be brief.\n\nExamples: x",
                "restructured": "Role: x", "combined": "Role: x\n\nExamples: x"},
    "scores": {"current": score(0.5), "clarified": score(0.62, 0.25), "few_shot": score(0.7),
               "restructured": score(0.7, 0.25), "combined": score(0.1)},
    "vs_current": {"restructured": {"f1_delta": 0.2}},
    "held_out_example_ids": ["e1", "e2", "e3", "e4"],
}

BASE = TrainedBundle(
    bundle_id="a_20260301_000000", agent="a", model_type="logistic", training_count=80, accuracy=0.8,
    thresholds={"decision_threshold": 0.4, "x_weight": 1.0}, features=("x",), model="bW9kZWw=", holdout_ids=("h",),
)


def test_choose_variant_best_by_token_f1_then_exact_match():
    assert choose_variant(DETAILS, None, "r") == "restructured"  # ties few_shot on F1, wins on exact match
    assert choose_variant(DETAILS, " combined ", "r") == "combined"
    with pytest.raises(PromptBundleError, match="unknown variant 'current' of training run r"):
        choose_variant(DETAILS, "current", "r")
    with pytest.raises(PromptBundleError, match="has no scored variants"):
        choose_variant({"scores": {"current": score(0.5)}, "prompts": {"current": "p"}}, None, "r")


def test_prompt_bundle_keeps_the_base_and_records_the_run():
    bundle = prompt_bundle(agent="a", training_run_id="r", details=DETAILS, variant=None, at=AT, base=BASE)
    assert bundle.bundle_id == "a_20260303_123005_prompt" and is_prompt_bundle(bundle)
    assert (bundle.model_type, bundle.source, bundle.base_bundle_id) == ("prompt", "prompt_optimization", BASE.bundle_id)
    assert (bundle.training_count, bundle.accuracy) == (4, 0.7)
    assert bundle.thresholds == BASE.thresholds and bundle.model == BASE.model and bundle.features == ("x",)
    assert system_prompt_of(bundle) == "Role: x" and bundle.snapshot["training_run_id"] == "r"
    assert TrainedBundle.from_record(bundle.to_record()) == bundle  # survives storage
    alone = prompt_bundle(agent="a", training_run_id="r", details=DETAILS, variant="clarified", at=AT, base=None)
    assert alone.thresholds == {} and alone.model is None and alone.base_bundle_id is None
    with pytest.raises(PromptBundleError, match="belongs to a, not b"):
        prompt_bundle(agent="b", training_run_id="r", details=DETAILS, variant=None, at=AT, base=BASE)


def test_prompt_diff_uses_the_runs_numbers_and_lists_changed_thresholds():
    bundle = prompt_bundle(agent="a", training_run_id="r", details=DETAILS, variant="clarified", at=AT, base=BASE)
    diff = prompt_diff(bundle, BASE)
    assert diff == {"changes": [{"param": "system_prompt", "old": "Be brief.", "new": "Be brief and exact.",
                                 "delta": None}], "accuracy_delta": 0.12}
    moved = TrainedBundle(**{**BASE.__dict__, "bundle_id": "a_2", "thresholds": {"decision_threshold": 0.5, "x_weight": 1.0}})
    assert [c["param"] for c in prompt_diff(bundle, moved)["changes"]] == ["decision_threshold", "system_prompt"]
    assert prompt_diff(bundle, moved)["changes"][0]["delta"] == -0.1
    with pytest.raises(PromptBundleError, match="not a prompt bundle"):
        prompt_diff(BASE, None)


def test_reverted_prompt_only_for_a_non_prompt_bundle_over_a_stable_prompt_bundle():
    prompt = prompt_bundle(agent="a", training_run_id="r", details=DETAILS, variant=None, at=AT, base=BASE)
    assert prompt_reverted_change(BASE, prompt) == {"param": "system_prompt", "old": "Role: x", "new": None,
                                                     "delta": None}
    assert prompt_reverted_change(BASE, BASE) is None and prompt_reverted_change(prompt, prompt) is None
