"""Warehouse access: contract tables and the DuckDB / PostgreSQL backends."""

from learning_loop.warehouse.backend import Transaction, Warehouse, WarehouseError, open_warehouse

__all__ = ["Transaction", "Warehouse", "WarehouseError", "open_warehouse"]
