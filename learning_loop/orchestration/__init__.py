"""Dagster plumbing shared by every domain folder under `learning_loop/defs/` and by the CLI.

- `location`: the code location's settings, read once when the location loads.
- `resources`: the warehouse and runtime-folder resources, built from settings.
- `partitions`: the daily partitions, the single-run backfill policy, the warehouse pool.
- `partition_loop`: the one loop that writes each partition of a single-run backfill.
- `code_version`: asset code versions derived from their code.
- `instance`, `runner`: the Dagster instance the CLI runs on and how it launches jobs.
"""
