"""RAG training sets (SPEC §13): retrieval feedback grouped per query, hard negatives, baselines.

Pairs in: `query`, `document`, `relevant` (0/1), `observed_at`. The latest
observation of a (query, document) pair wins. Queries are split by a hash of
their text: about 20 % are held out (at least one when there are two or more
queries) and never used for mining; on them the baseline retrievers are
evaluated over the window's whole document corpus:

- recall@5: share of a query's relevant documents among the top 5, averaged over queries;
- MRR: mean of 1 / rank of the first relevant document.

Hard negatives for a training query are the top-ranked corpus documents that
are not known to be relevant to it (BM25 via `rank-bm25`; a sentence-embedding
ranker can be plugged in the same way as a scoring function).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from rank_bm25 import BM25Okapi

from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.jobs.scoring import tokens

WINDOW_DAYS = 7
HOLDOUT_BUCKETS = 5  # 1 in 5 queries held out
HARD_NEGATIVES = 5
RECALL_K = 5

#: `scorer(query, documents) -> scores`, higher = more relevant
Scorer = Callable[[str, Sequence[str]], Sequence[float]]


def in_window(pairs: pd.DataFrame, as_of: datetime, days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Pairs observed in the `days` before as_of (as_of excluded), latest observation per pair."""
    end = utc_naive(as_of)
    frame = pairs.copy()
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True).dt.tz_localize(None)
    frame = frame.loc[(frame["observed_at"] >= end - timedelta(days=days)) & (frame["observed_at"] < end)]
    frame = frame.sort_values(["query", "document", "observed_at"], kind="mergesort")
    return frame.drop_duplicates(["query", "document"], keep="last").reset_index(drop=True)


def is_held_out(query: str) -> bool:
    return int(hashlib.sha256(query.encode("utf-8")).hexdigest()[:8], 16) % HOLDOUT_BUCKETS == 0


@dataclass(frozen=True)
class QueryGroup:
    query: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    held_out: bool


def group_pairs(pairs: pd.DataFrame) -> list[QueryGroup]:
    """Positives and negatives per query (sorted), with the held-out flag."""
    groups = []
    for query, rows in pairs.groupby("query", sort=True):
        rel = rows["relevant"].astype(int)
        groups.append(QueryGroup(str(query), tuple(sorted(rows.loc[rel == 1, "document"].astype(str))),
                                 tuple(sorted(rows.loc[rel == 0, "document"].astype(str))), is_held_out(str(query))))
    if len(groups) >= 2 and not any(g.held_out for g in groups):
        first = min(range(len(groups)), key=lambda i: hashlib.sha256(groups[i].query.encode()).hexdigest())
        g = groups[first]
        groups[first] = QueryGroup(g.query, g.positives, g.negatives, True)
    if groups and all(g.held_out for g in groups) and len(groups) >= 2:
        g = groups[-1]
        groups[-1] = QueryGroup(g.query, g.positives, g.negatives, False)
    return groups


def bm25_scorer(corpus: Sequence[str]) -> Scorer:
    """A BM25 (Okapi) scorer over `corpus`; the documents passed to it must be that corpus."""
    index = BM25Okapi([tokens(d) or [""] for d in corpus])

    def score(query: str, documents: Sequence[str]) -> Sequence[float]:
        if list(documents) != list(corpus):
            raise ValueError("the BM25 scorer ranks only the corpus it was built on")
        return index.get_scores(tokens(query))

    return score


def ranking(scorer: Scorer, query: str, corpus: Sequence[str]) -> list[str]:
    """Corpus documents best first (ties broken by document text, so the order is deterministic)."""
    scores = np.asarray(scorer(query, corpus), dtype=float)
    order = sorted(range(len(corpus)), key=lambda i: (-scores[i], corpus[i]))
    return [corpus[i] for i in order]


def hard_negatives(scorer: Scorer, group: QueryGroup, corpus: Sequence[str], k: int = HARD_NEGATIVES) -> list[str]:
    positives = set(group.positives)
    return [d for d in ranking(scorer, group.query, corpus) if d not in positives][:k]


@dataclass(frozen=True)
class RetrievalQuality:
    queries: int
    recall_at_5: float
    mrr: float

    def to_dict(self) -> dict:
        return {"queries": self.queries, "recall_at_5": self.recall_at_5, "mrr": self.mrr}


def evaluate(scorer: Scorer, groups: Sequence[QueryGroup], corpus: Sequence[str], k: int = RECALL_K) -> RetrievalQuality:
    """recall@k and MRR over the groups that have a relevant document."""
    recalls, rr = [], []
    for group in groups:
        if not group.positives:
            continue
        ranked = ranking(scorer, group.query, corpus)
        positives = set(group.positives)
        recalls.append(len(positives & set(ranked[:k])) / len(positives))
        first = next((i for i, d in enumerate(ranked, start=1) if d in positives), None)
        rr.append(0.0 if first is None else 1.0 / first)
    if not recalls:
        return RetrievalQuality(0, float("nan"), float("nan"))
    return RetrievalQuality(len(recalls), float(np.mean(recalls)), float(np.mean(rr)))


def training_set(groups: Sequence[QueryGroup], corpus: Sequence[str], scorers: dict[str, Scorer],
                 k: int = HARD_NEGATIVES) -> pd.DataFrame:
    """One row per query: positives, labeled negatives, hard negatives per scorer, split."""
    rows = []
    for g in groups:
        row = {"query": g.query, "split": "held_out" if g.held_out else "train",
               "positives": list(g.positives), "negatives": list(g.negatives)}
        for name, scorer in scorers.items():
            row[f"hard_negatives_{name}"] = [] if g.held_out else hard_negatives(scorer, g, corpus, k)
        rows.append(row)
    return pd.DataFrame(rows)


def corpus_of(pairs: pd.DataFrame) -> list[str]:
    return sorted(set(pairs["document"].astype(str)))
