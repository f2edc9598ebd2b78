"""Ingestion: landing files become videos, metric snapshots, quarantine rows and the ledger (contract §1, §3)."""
