from datetime import datetime, timedelta

import pandas as pd
import pytest

from learning_loop.domain.jobs import prompts as p

AS_OF = datetime(2026, 3, 2, 2, 0)


def label(i: int, *, source="approvals", value=1, days_ago=1.0, inp="in", out="out", agent="triage"):
    return {"agent": agent, "example_id": f"e{i}", "source": source, "label": value,
            "labeled_at": AS_OF - timedelta(days=days_ago), "input_text": inp if inp is None else f"{inp} {i}",
            "expected_output": out if out is None else f"{out} {i}"}


@pytest.mark.parametrize(
    "decisions, prompt, examples, eligible",
    [(50, "You triage.", 10, True), (49, "You triage.", 10, False), (50, None, 10, False),
     (50, "   ", 10, False), (50, "You triage.", 9, False)],
)
def test_eligibility_thresholds(decisions, prompt, examples, eligible):
    e = p.eligibility("triage", decisions_30d=decisions, system_prompt=prompt, approved_examples=examples)
    assert e.eligible is eligible
    if not eligible:
        assert e.reason != "eligible"


def test_eligibility_lists_every_reason():
    e = p.eligibility("triage", decisions_30d=3, system_prompt=None, approved_examples=0)
    assert "3 decisions in 30 days (< 50)" in e.reason
    assert "no system_prompt configured" in e.reason
    assert "0 approved examples (< 10)" in e.reason


def test_approved_examples_need_label_1_text_and_expected_output():
    rows = [label(1), label(2, value=0), label(3, inp=None), label(4, out=None), {**label(5), "expected_output": "  "},
            label(6, days_ago=-1), label(7, agent="other")]
    # example 8: feedback says 1 but gold says 0 -> gold wins, not approved
    rows += [label(8, source="feedback", value=1), label(8, source="gold", value=0)]
    # example 9: feedback 0, approvals 1 -> approvals wins
    rows += [label(9, source="feedback", value=0), label(9, source="approvals", value=1)]
    frame = p.approved_examples(pd.DataFrame(rows), "triage", AS_OF)
    assert sorted(frame["example_id"]) == ["e1", "e9"]


def test_newest_hundred_oldest_first():
    rows = [label(i, days_ago=200 - i) for i in range(150)]
    frame = p.approved_examples(pd.DataFrame(rows), "triage", AS_OF)
    assert len(frame) == 100
    assert frame["example_id"].iloc[0] == "e50" and frame["example_id"].iloc[-1] == "e149"


def test_holdout_is_newest_30_percent_at_least_3():
    ex = pd.DataFrame({"example_id": [f"e{i}" for i in range(10)], "input_text": "x", "expected_output": "y"})
    train, held = p.split_holdout(ex)
    assert held["example_id"].tolist() == ["e7", "e8", "e9"] and len(train) == 7
    train, held = p.split_holdout(ex.head(4))
    assert len(held) == 3 and len(train) == 1
    train, held = p.split_holdout(pd.concat([ex] * 5, ignore_index=True))
    assert len(held) == 15


def test_variants_few_shot_built_from_examples_and_generated_ones_required():
    train = pd.DataFrame({"input_text": ["hi", "bye"], "expected_output": ["HI", "BYE"]})
    variants = p.build_variants("Answer.", {"clarified": "C", "restructured": "R", "combined": "K"}, train)
    assert set(variants) == {"current", "clarified", "few_shot", "restructured", "combined"}
    assert variants["few_shot"].startswith("Answer.\n\nExamples:") and "Input: bye\nOutput: BYE" in variants["few_shot"]
    assert variants["combined"].startswith("K\n\nExamples:")
    with pytest.raises(ValueError, match="restructured"):
        p.build_variants("Answer.", {"clarified": "C", "restructured": " ", "combined": "K"}, train)
    messages = p.generation_messages("clarified", "Answer.", train)
    assert "Answer." in messages[-1]["content"] and "'bye'" in messages[-1]["content"]
    with pytest.raises(ValueError):
        p.generation_messages("few_shot", "Answer.", train)


def test_best_variant_ignores_current_and_breaks_ties():
    scores = {"current": {"token_f1": 1.0, "exact_match": 1.0},
              "clarified": {"token_f1": 0.5, "exact_match": 0.2},
              "few_shot": {"token_f1": 0.7, "exact_match": 0.1},
              "combined": {"token_f1": 0.7, "exact_match": 0.3}}
    assert p.best_variant(scores) == "combined"
