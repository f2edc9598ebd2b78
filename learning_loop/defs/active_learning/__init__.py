"""Active learning: labeled-data feeds, bundle training, approvals, pause (SPEC §9, §10, §12)."""
