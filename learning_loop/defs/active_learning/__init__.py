"""Active learning: labeled-data feeds, bundle training, approvals, pause (contract §3.3, §9.3–9.4, §9.6–9.8)."""
