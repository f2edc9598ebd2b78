"""The retry policy of warehouse steps: transient warehouse errors are retried with backoff.

A PostgreSQL connection terminated mid-run (a failover, an operator's `pg_terminate_backend`,
an idle-connection reaper), a DuckDB lock held a moment too long or a network blip fail one
attempt of a step, not the run. Retrying a step is safe because every partition is written in
one transaction (`partition_loop.write_daily_partitions`: delete + insert + checks, committed
together), so a failed attempt leaves no half-written partition and the retry rewrites the same
rows. The policy is set once per job (`op_retry_policy` of `update_stats` and `ingest_landing`),
not per asset.

Every user-code error is retried (Dagster's policy has no predicate); the delays are short so a
deterministic error costs about two seconds more before the run fails with its root cause. Run-level
retries (a run whose worker died) are the instance's `run_retries` (templates/dagster.production.yaml).
"""

from __future__ import annotations

import dagster as dg

#: attempts after the first
WAREHOUSE_MAX_RETRIES = 2
#: base delay in seconds: Dagster's exponential backoff waits delay × (2ⁿ − 1) before attempt n+1
#: (0.5 s, then 1.5 s), each ± delay (jitter) so retries of parallel steps do not line up
WAREHOUSE_RETRY_DELAY_S = 0.5

WAREHOUSE_RETRY = dg.RetryPolicy(
    max_retries=WAREHOUSE_MAX_RETRIES,
    delay=WAREHOUSE_RETRY_DELAY_S,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)
