"""Pure core of the background learning jobs (SPEC §13, runbook 002).

- `catalog`: the five jobs, their schedules, periods and timeouts.
- `scoring`: exact match and token-F1 of outputs against `expected_output`, with intervals.
- `prompts`: eligibility, example selection, the four prompt variants.
- `rag`: retrieval pairs grouped per query, BM25 hard negatives, recall@5 and MRR.
- `retention`: the retention cut-off, archive partitions by month, content hashes.
- `report`: the weekly learning report's numbers and Markdown.
- `alerts`: the runbook's alerts (failed-run rate, stale schedules, RAG pairs not growing).
"""
