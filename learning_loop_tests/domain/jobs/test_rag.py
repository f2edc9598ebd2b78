from datetime import datetime, timedelta

import pandas as pd
import pytest

from learning_loop.domain.jobs import rag

AS_OF = datetime(2026, 3, 2, 3, 0)


def pair(q, d, rel, hours_ago=1.0):
    return {"query": q, "document": d, "relevant": rel, "observed_at": AS_OF - timedelta(hours=hours_ago)}


def test_window_keeps_last_7_days_and_latest_observation():
    frame = pd.DataFrame([pair("q", "d", 1, 24 * 8), pair("q", "e", 0, 5), pair("q", "e", 1, 2), pair("q", "f", 1, -1)])
    got = rag.in_window(frame, AS_OF)
    assert got[["document", "relevant"]].values.tolist() == [["e", 1]]


def test_group_pairs_and_holdout_split():
    frame = pd.DataFrame([pair("q1", "a", 1), pair("q1", "b", 0), pair("q1", "c", 0), pair("q2", "b", 1)])
    groups = rag.group_pairs(frame)
    assert [(g.query, g.positives, g.negatives) for g in groups] == [("q1", ("a",), ("b", "c")), ("q2", ("b",), ())]
    assert sum(g.held_out for g in groups) == 1  # at least one held out, at least one for training


CORPUS = ["the cat sat on the mat", "dogs chase cats", "stock market news today", "how to bake bread",
          "cat food reviews", "bread recipes with yeast"]


def test_bm25_hard_negatives_exclude_positives():
    scorer = rag.bm25_scorer(CORPUS)
    g = rag.QueryGroup("cat mat", ("the cat sat on the mat",), (), False)
    negs = rag.hard_negatives(scorer, g, CORPUS, k=2)
    assert "the cat sat on the mat" not in negs
    assert negs[0] in ("cat food reviews", "dogs chase cats")
    with pytest.raises(ValueError):
        scorer("cat", CORPUS[:2])


def test_recall_at_5_and_mrr_by_hand():
    # fixed scores: ranking is by the listed order
    order = {d: -i for i, d in enumerate(CORPUS)}

    def scorer(query, docs):
        return [order[d] for d in docs]

    groups = [rag.QueryGroup("q1", (CORPUS[1], CORPUS[5]), (), True),  # ranks 2 and 6
              rag.QueryGroup("q2", (CORPUS[0],), (), True),  # rank 1
              rag.QueryGroup("q3", (), (CORPUS[0],), True)]  # no positive: not counted
    quality = rag.evaluate(scorer, groups, CORPUS)
    assert quality.queries == 2
    assert quality.recall_at_5 == pytest.approx((0.5 + 1.0) / 2)
    assert quality.mrr == pytest.approx((1 / 2 + 1) / 2)


def test_training_set_rows():
    frame = pd.DataFrame([pair("cat mat", CORPUS[0], 1), pair("cat mat", CORPUS[2], 0), pair("bread", CORPUS[3], 1)])
    groups = [rag.QueryGroup(g.query, g.positives, g.negatives, False) for g in rag.group_pairs(frame)]
    out = rag.training_set(groups, CORPUS, {"bm25": rag.bm25_scorer(CORPUS)}, k=3)
    row = out.set_index("query").loc["cat mat"]
    assert row["positives"] == [CORPUS[0]] and row["negatives"] == [CORPUS[2]]
    assert len(row["hard_negatives_bm25"]) == 3 and CORPUS[0] not in row["hard_negatives_bm25"]
