import math

import pytest

from learning_loop.domain.jobs.scoring import (
    compare,
    exact_match,
    mean_interval,
    normalise,
    score_outputs,
    token_f1,
    wilson_interval,
)


def test_normalise_drops_case_punctuation_and_spacing():
    assert normalise("  Hello,   World! ") == "hello world"
    assert exact_match("Spam.", "spam") == 1.0
    assert exact_match("spam eggs", "spam") == 0.0


def test_token_f1_by_hand():
    # output 3 tokens, expected 2, 1 in common: P=1/3, R=1/2, F1=2*(1/6)/(5/6)=0.4
    assert token_f1("the cat sat", "a cat") == pytest.approx(0.4)
    assert token_f1("", "") == 1.0
    assert token_f1("x", "") == 0.0
    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)  # common multiset {a, b}


def test_wilson_interval_known_value():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3)
    assert high == pytest.approx(0.9433, abs=1e-3)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_mean_interval_t():
    mean, low, high = mean_interval([0.0, 1.0, 0.5, 0.5])
    assert mean == pytest.approx(0.5)
    # sd = 0.4082, t(0.975, 3) = 3.182, half = 3.182 * 0.4082 / 2 = 0.6496
    assert high - mean == pytest.approx(0.6496, abs=1e-3)
    assert mean - low == pytest.approx(high - mean)


def test_score_outputs_and_paired_comparison():
    expected = ["yes", "no", "maybe so", "yes"]
    current = ["no", "no", "maybe", "no"]
    better = ["yes", "no", "maybe so", "yes"]
    s = score_outputs(better, expected)
    assert (s.n, s.exact_match, s.token_f1) == (4, 1.0, 1.0)
    c = score_outputs(current, expected)
    assert c.exact_match == pytest.approx(0.25)
    assert c.token_f1 == pytest.approx((0 + 1 + 2 / 3 + 0) / 4)
    cmp = compare(better, current, expected)
    assert cmp.f1_delta == pytest.approx(1 - c.token_f1)
    assert cmp.n == 4
    with pytest.raises(ValueError):
        score_outputs(["a"], ["a", "b"])


def test_identical_prompts_are_not_significantly_better():
    expected = ["a b", "c d", "e f"]
    cmp = compare(["a", "c", "e"], ["a", "c", "e"], expected)
    assert cmp.f1_delta == 0.0 and not cmp.significantly_better
