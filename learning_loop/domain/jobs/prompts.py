"""Prompt optimization (SPEC §13): which agents qualify, which examples, which variants.

An agent is *eligible* when it has >= 50 decisions in the 30 days before as_of,
a system prompt configured (`agents/<agent>.yaml`, key `system_prompt`) and >= 10
approved examples. An *approved example* is an example (SPEC §9 resolution: gold >
approvals > feedback) whose label is 1 and that has a non-empty `input_text` and
`expected_output`; the newest 100 are used.

The newest 30 % of them (at least 3) are held out for scoring; the rest feed the
variants. Variants: `clarified`, `restructured` (written by the language model
from the current prompt), `few_shot` (the current prompt plus up to 5 training
examples, built directly), `combined` (the model's restructured-and-clarified
prompt plus the same few-shot examples). The current prompt is scored too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from learning_loop.domain.active_learning.examples import resolve_examples, utc_naive

MIN_DECISIONS = 50
DECISION_WINDOW_DAYS = 30
MIN_EXAMPLES = 10
MAX_EXAMPLES = 100
HOLDOUT_FRACTION = 0.3
MIN_HOLDOUT = 3
FEW_SHOT_K = 5
VARIANTS: tuple[str, ...] = ("clarified", "few_shot", "restructured", "combined")
#: variants whose text the language model writes (few_shot is built from the examples)
MODEL_GENERATED: tuple[str, ...] = ("clarified", "restructured", "combined")
CURRENT = "current"


@dataclass(frozen=True)
class Eligibility:
    agent: str
    eligible: bool
    reason: str
    decisions_30d: int
    approved_examples: int
    has_prompt: bool


def decision_window(as_of: datetime) -> tuple[pd.Timestamp, pd.Timestamp]:
    end = utc_naive(as_of)
    return end - timedelta(days=DECISION_WINDOW_DAYS), end


def eligibility(agent: str, *, decisions_30d: int, system_prompt: str | None, approved_examples: int) -> Eligibility:
    """Whether `agent` qualifies, and if not, every reason why (one line)."""
    has_prompt = bool(system_prompt and system_prompt.strip())
    reasons = []
    if decisions_30d < MIN_DECISIONS:
        reasons.append(f"{decisions_30d} decisions in {DECISION_WINDOW_DAYS} days (< {MIN_DECISIONS})")
    if not has_prompt:
        reasons.append("no system_prompt configured")
    if approved_examples < MIN_EXAMPLES:
        reasons.append(f"{approved_examples} approved examples (< {MIN_EXAMPLES})")
    return Eligibility(agent, not reasons, "; ".join(reasons) or "eligible", decisions_30d, approved_examples, has_prompt)


def approved_examples(labels: pd.DataFrame, agent: str, as_of: datetime, limit: int = MAX_EXAMPLES) -> pd.DataFrame:
    """The agent's newest `limit` approved examples before as_of, oldest first
    (columns example_id, input_text, expected_output, labeled_at, source)."""
    cols = ["example_id", "input_text", "expected_output", "labeled_at", "source"]
    if labels.empty:
        return pd.DataFrame(columns=cols)
    frame = resolve_examples(labels.loc[labels["agent"] == agent], as_of)
    if frame.empty:
        return pd.DataFrame(columns=cols)
    has_text = frame["input_text"].fillna("").astype(str).str.strip().ne("") & \
        frame["expected_output"].fillna("").astype(str).str.strip().ne("")
    chosen = frame.loc[(frame["label"] == 1) & has_text]
    chosen = chosen.sort_values(["labeled_at", "example_id"], kind="mergesort").tail(limit)
    return chosen[cols].reset_index(drop=True)


def split_holdout(examples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held_out): the newest 30 % (at least 3) held out; input sorted oldest first."""
    n = len(examples)
    held = min(n, max(MIN_HOLDOUT, math.ceil(HOLDOUT_FRACTION * n)))
    return examples.iloc[: n - held].reset_index(drop=True), examples.iloc[n - held:].reset_index(drop=True)


def few_shot_prompt(base: str, train: pd.DataFrame, k: int = FEW_SHOT_K) -> str:
    """The prompt followed by the newest k training examples as input/output pairs."""
    shots = train.tail(k)
    if shots.empty:
        return base.strip()
    lines = [base.strip(), "", "Examples:"]
    for _, row in shots.iterrows():
        lines += ["", f"Input: {str(row['input_text']).strip()}", f"Output: {str(row['expected_output']).strip()}"]
    return "\n".join(lines)


_INSTRUCTIONS = {
    "clarified": "Rewrite the system prompt below so that every instruction is explicit and unambiguous. "
                 "Keep its meaning and all of its rules. Reply with the new system prompt only.",
    "restructured": "Restructure the system prompt below into clearly headed sections: Role, Task, Rules, "
                    "Output format. Keep its meaning and all of its rules. Reply with the new system prompt only.",
    "combined": "Rewrite the system prompt below so that every instruction is explicit and unambiguous, "
                "organised in headed sections (Role, Task, Rules, Output format). Keep its meaning and all "
                "of its rules. Reply with the new system prompt only.",
}


def generation_messages(variant: str, base: str, train: pd.DataFrame, k: int = 3) -> list[dict[str, str]]:
    """Chat messages asking the language model to write a model-generated variant."""
    if variant not in MODEL_GENERATED:
        raise ValueError(f"variant {variant!r} is not model-generated; one of {', '.join(MODEL_GENERATED)}")
    sample = "\n".join(
        f"- input: {str(r['input_text']).strip()!r} -> expected output: {str(r['expected_output']).strip()!r}"
        for _, r in train.tail(k).iterrows()
    )
    user = f"{_INSTRUCTIONS[variant]}\n\nSystem prompt:\n<<<\n{base.strip()}\n>>>"
    if sample:
        user += f"\n\nExamples of correct behaviour:\n{sample}"
    return [{"role": "system", "content": "You are an expert prompt engineer."}, {"role": "user", "content": user}]


def build_variants(base: str, generated: Mapping[str, str], train: pd.DataFrame) -> dict[str, str]:
    """Every prompt to score: current, the four variants (combined = generated text + few-shot examples)."""
    missing = [v for v in MODEL_GENERATED if not (generated.get(v) or "").strip()]
    if missing:
        raise ValueError(f"the language model returned no text for: {', '.join(missing)}")
    return {
        CURRENT: base.strip(),
        "clarified": generated["clarified"].strip(),
        "few_shot": few_shot_prompt(base, train),
        "restructured": generated["restructured"].strip(),
        "combined": few_shot_prompt(generated["combined"], train),
    }


def best_variant(scores: Mapping[str, Mapping[str, float]]) -> str:
    """The variant (not the current prompt) with the highest token-F1, then exact match, then name."""
    candidates = [v for v in scores if v != CURRENT]
    if not candidates:
        raise ValueError("no variant scored")
    return max(candidates, key=lambda v: (scores[v]["token_f1"], scores[v]["exact_match"], -VARIANTS.index(v)
                                          if v in VARIANTS else 0))
