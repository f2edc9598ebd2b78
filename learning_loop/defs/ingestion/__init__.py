"""Ingestion: landing files become videos, metric snapshots, quarantine rows and the ledger (SPEC §1–2)."""
