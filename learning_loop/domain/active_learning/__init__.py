"""Active learning (SPEC §9–12, runbook `003_…`): the pure core.

Modules: `feeds` (landing rules of labels, judgments, decisions), `examples`
(labeled examples, stats, red flags), `training` (bundle training, fair diff),
`bundles` (manual bundle upload), `agents` (per-agent configuration and
bounds), `approvals` (the approval state machine) and `pause`.
No Dagster, no database, no environment: data in, data out.
"""
