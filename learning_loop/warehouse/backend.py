"""The warehouse: one interface, two real backends (DuckDB file, PostgreSQL).

SQL is written once with `:name` placeholders and always bound as parameters,
never pasted in. DuckDB receives them as `$name`; PostgreSQL goes through
SQLAlchemy `text()`. Bulk inserts use DuckDB's DataFrame scan and PostgreSQL
`COPY`, both inside the caller's transaction.

DuckDB allows one writing process per file. Connections here are short-lived
(one per transaction) and opening one waits, with backoff, while another
process holds the file lock; Dagster's `warehouse` pool (limit 1 on the
embedded instance) keeps runs from contending in the first place.
"""

from __future__ import annotations

import io
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from learning_loop.warehouse.schema import TABLES, Table, _quoted

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class WarehouseError(RuntimeError):
    """A warehouse problem worth a one-line message to the operator."""


def placeholders(sql: str) -> set[str]:
    """Names of the `:name` parameters a statement uses."""
    return set(_PLACEHOLDER.findall(sql))


def _bindable(value: Any) -> Any:
    """Timestamps are stored naive in UTC; convert aware values before binding."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _params_for(sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    wanted = placeholders(sql)
    params = dict(params or {})
    missing = wanted - params.keys()
    if missing:
        raise WarehouseError(f"missing SQL parameters: {sorted(missing)}")
    return {k: _bindable(params[k]) for k in wanted}


def coerce_frame(table: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Give a frame the column order and dtypes of a contract table."""
    out = pd.DataFrame(index=df.index)
    kinds = dict(table.columns)
    for name in table.column_names:
        col = df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
        kind = kinds[name]
        if kind == "int":
            out[name] = pd.to_numeric(col, errors="raise").astype("Int64")
        elif kind == "float":
            out[name] = pd.to_numeric(col, errors="raise").astype("float64")
        elif kind == "bool":
            out[name] = col.astype("boolean")
        elif kind == "ts":
            out[name] = pd.to_datetime(col, utc=True).dt.tz_localize(None).astype("datetime64[us]")
        elif kind == "date":
            out[name] = pd.to_datetime(col).dt.date
        else:
            out[name] = col.astype(object).where(col.notna(), None)
    return out.reset_index(drop=True)


_ENSURED: set[tuple] = set()


class Transaction(ABC):
    """Statements inside one all-or-nothing transaction."""

    dialect: str

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    @abstractmethod
    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def _insert_coerced(self, table: Table, df: pd.DataFrame) -> None: ...

    def insert_df(self, table_name: str, df: pd.DataFrame) -> int:
        """Insert a frame into a contract table; returns the row count."""
        if df.empty:
            return 0
        table = TABLES[table_name]
        self._insert_coerced(table, coerce_frame(table, df))
        return len(df)

    @abstractmethod
    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """A query's rows as an Arrow table."""

    @abstractmethod
    def insert_arrow(self, table: Table, rows: Any) -> None:
        """Insert an Arrow table into `table` (a contract or staging table): its columns of the same
        names; the others stay NULL."""

    @abstractmethod
    def stage_arrow(self, name: str, columns: Sequence[tuple[str, str]], rows: Any) -> None:
        """Make the Arrow table `rows` queryable as `name` (columns: (name, kind) of the contract)
        until `drop_stage(name)`."""

    @abstractmethod
    def drop_stage(self, name: str) -> None: ...

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        frame = self.query_df(sql, params)
        return None if frame.empty else frame.iat[0, 0]

    def replace_partition(
        self,
        table_name: str,
        partition_date: date,
        rows: pd.DataFrame | None = None,
        *,
        select_sql: str | None = None,
        columns: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """The one delete-then-insert path of daily partitions: delete the partition's rows, then
        insert `rows` (a frame, given `partition_date` here) or the rows of `select_sql` (into
        `columns`, default the table's columns in order). Returns the partition's row count. Runs inside
        the caller's transaction, so a failure leaves the old rows in place."""
        if (rows is None) == (select_sql is None):
            raise ValueError("replace_partition takes either rows or select_sql")
        self.execute(f"DELETE FROM {table_name} WHERE partition_date = :partition_date", {"partition_date": partition_date})
        if select_sql is not None:
            target = ", ".join(columns or TABLES[table_name].column_names)
            self.execute(f"INSERT INTO {table_name} ({target}) {select_sql}", params)
            return int(
                self.scalar(
                    f"SELECT count(*) FROM {table_name} WHERE partition_date = :partition_date",
                    {"partition_date": partition_date},
                )
            )
        if rows.empty:
            return 0
        return self.insert_df(table_name, rows.assign(partition_date=partition_date))


class Warehouse(ABC):
    dialect: str
    url: str

    @abstractmethod
    def transaction(self) -> Any:  # context manager yielding a Transaction
        ...

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.transaction() as tx:
            return tx.query_df(sql, params)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.transaction() as tx:
            return tx.scalar(sql, params)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with self.transaction() as tx:
            tx.execute(sql, params)

    @staticmethod
    def existing_columns(tx: Transaction) -> dict[str, set[str]]:
        """Columns of every table in the current schema, in one query."""
        frame = tx.query_df(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        out: dict[str, set[str]] = {}
        for table, column in frame.itertuples(index=False, name=None):
            out.setdefault(table, set()).add(column)
        return out

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold one connection for a batch of transactions (a no-op where pooling exists)."""
        yield

    def ensure_schema(self) -> None:
        """Create every contract table that is missing; add missing columns. Once per process and URL."""
        key = (self.url, tuple((t.name, tuple(t.column_names)) for t in TABLES.values()))
        if key in _ENSURED and self._still_there():
            return
        with self.transaction() as tx:
            present = self.existing_columns(tx)
            for table in TABLES.values():
                if table.name not in present:
                    for statement in table.ddl(self.dialect):
                        tx.execute(statement)
                    continue
                for column in table.column_names:
                    if column not in present[table.name]:
                        tx.execute(table.add_column_ddl(self.dialect, column))
        _ENSURED.add(key)

    def _still_there(self) -> bool:
        """Whether the storage checked earlier still exists (a DuckDB file can be deleted)."""
        return True

    def describe(self) -> str:
        return _redact(self.url)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


# --------------------------------------------------------------------------- DuckDB


class _DuckTx(Transaction):
    dialect = "duckdb"

    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.con.execute(_PLACEHOLDER.sub(r"$\1", sql), _params_for(sql, params))

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return self.con.execute(_PLACEHOLDER.sub(r"$\1", sql), _params_for(sql, params)).df()

    def insert_arrow(self, table: Table, rows: Any) -> None:
        """Arrow goes in as is (DuckDB scans it without a copy), cast to the table's types."""
        names = [c for c in table.column_names if c in rows.column_names]
        cols = _quoted(names)
        self.con.register("__ll_insert_arrow", rows)
        try:
            self.con.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM __ll_insert_arrow")
        finally:
            self.con.unregister("__ll_insert_arrow")

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.con.sql(_PLACEHOLDER.sub(r"$\1", sql), params=_params_for(sql, params)).to_arrow_table()

    def stage_arrow(self, name: str, columns: Sequence[tuple[str, str]], rows: Any) -> None:
        """DuckDB scans the Arrow table in place: no copy (the columns it lacks are simply absent)."""
        self.con.register(name, rows)

    def drop_stage(self, name: str) -> None:
        self.con.unregister(name)

    def _insert_coerced(self, table: Table, df: pd.DataFrame) -> None:
        cols = table.column_list
        self.con.register("__ll_insert", df)
        try:
            self.con.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM __ll_insert")
        finally:
            self.con.unregister("__ll_insert")


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"

    def __init__(self, url: str, lock_timeout_s: float = 600.0) -> None:
        self.url = url
        raw = url[len("duckdb:///") :]
        self.path = Path(raw).expanduser()
        self.lock_timeout_s = lock_timeout_s

        self._con: Any = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Reuse one connection (and the file lock) for every transaction inside."""
        if self._con is not None:
            yield
            return
        self._con = self._connect()
        try:
            yield
        finally:
            self._con.close()
            self._con = None

    def _still_there(self) -> bool:
        return self.path.exists()

    def _connect(self) -> Any:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise WarehouseError(f"cannot open DuckDB warehouse {self.path}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        own = self._con is None
        con = self._connect() if own else self._con
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield _DuckTx(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            if own:
                con.close()

# --------------------------------------------------------------------------- PostgreSQL


class _PgTx(Transaction):
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        from sqlalchemy import text

        self.conn.execute(text(sql), _params_for(sql, params))

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        from sqlalchemy import text

        result = self.conn.execute(text(sql), _params_for(sql, params))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Rows straight from the driver's cursor (psycopg2 binds the parameters), column by column."""
        import pyarrow as pa

        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(_PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%")), _params_for(sql, params))
            names = [d[0] for d in cursor.description]
            columns = list(zip(*cursor.fetchall())) or [() for _ in names]
        finally:
            cursor.close()
        return pa.table({name: pa.array(list(values)) for name, values in zip(names, columns)})

    def stage_arrow(self, name: str, columns: Sequence[tuple[str, str]], rows: Any) -> None:
        """A temporary table, analysed so the planner sees its size (and joins on the key index)."""
        from learning_loop.warehouse.schema import _TYPES

        typed = ", ".join(f'"{column}" {_TYPES[kind][1]}' for column, kind in columns)
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMPORARY TABLE {name} ({typed})")
        if rows.num_rows:
            self.insert_arrow(Table(name, tuple(columns)), rows)
        self.execute(f"ANALYZE {name}")

    def drop_stage(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}")

    def insert_arrow(self, table: Table, rows: Any) -> None:
        """Arrow's CSV writer feeds `COPY`: text is always quoted, NULL is the unquoted empty field, so
        no text value (not even `\\N` or "") can turn into NULL."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        names = [c for c in table.column_names if c in rows.column_names]
        if not rows.num_rows or not names:
            return
        columns = [rows[c].cast(rows[c].type.value_type) if pa.types.is_dictionary(rows[c].type) else rows[c] for c in names]
        buffer = io.BytesIO()
        pacsv.write_csv(pa.table(columns, names=names), buffer, pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        quoted = _quoted(names)
        cursor = self.conn.connection.cursor()
        try:
            cursor.copy_expert(f"COPY {table.name} ({quoted}) FROM STDIN WITH (FORMAT csv)", buffer)
        finally:
            cursor.close()

    def _insert_coerced(self, table: Table, df: pd.DataFrame) -> None:
        null = _null_marker(df)
        buffer = io.StringIO()
        df.to_csv(buffer, index=False, header=False, na_rep=null, date_format="%Y-%m-%d %H:%M:%S.%f")
        buffer.seek(0)
        cursor = self.conn.connection.cursor()
        try:
            cursor.copy_expert(
                f"COPY {table.name} ({table.column_list}) FROM STDIN WITH (FORMAT csv, NULL '{null}')",
                buffer,
            )
        finally:
            cursor.close()


def _null_marker(df: pd.DataFrame) -> str:
    """COPY's NULL string for this frame: `\\N`, unless a text cell holds exactly that (a user's value
    must not turn into NULL), then `\\N` plus hex digits no text cell holds."""
    texts: set[str] = set()
    for name in df.columns:
        column = df[name]
        if not len(column) or not (column.dtype == object or pd.api.types.is_string_dtype(column)):
            continue
        if pd.api.types.infer_dtype(column, skipna=True) == "string":
            hits = column.str.startswith("\\N", na=False).astype(bool)
        else:  # dates, numbers or mixed values in an object column
            hits = column.map(lambda v: isinstance(v, str) and v.startswith("\\N")).astype(bool)
        texts.update(str(v) for v in column[hits])
    marker, n = "\\N", 0
    while marker in texts:
        n += 1
        marker = f"\\N{n:x}"
    return marker


@lru_cache(maxsize=8)
def _pg_engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url, pool_pre_ping=True)


class PostgresWarehouse(Warehouse):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        from sqlalchemy.exc import OperationalError

        try:
            conn = _pg_engine(self.url).connect()
        except OperationalError as exc:
            raise WarehouseError(f"cannot connect to PostgreSQL warehouse {self.describe()}: {exc.orig}") from exc
        with conn, conn.begin():
            yield _PgTx(conn)

def open_warehouse(url: str, lock_timeout_s: float = 600.0) -> Warehouse:
    """A warehouse for a `duckdb:///path` or PostgreSQL SQLAlchemy URL (`lock_timeout_s`: how long
    opening a DuckDB file waits while another process holds its lock)."""
    if url.startswith("duckdb:///"):
        return DuckDBWarehouse(url, lock_timeout_s)
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            # psycopg2 is the driver we ship (SQLAlchemy 2.1 would pick psycopg 3 for a bare URL)
            return PostgresWarehouse("postgresql+psycopg2://" + url[len(prefix) :])
    raise WarehouseError(
        f"unsupported LEARNING_LOOP_WAREHOUSE_URL {_redact(url)!r}: use duckdb:///<path> or postgresql://user@host:5432/db"
    )


def finite_or_none(value: Any) -> Any:
    """NaN/inf become None (for JSON and metadata)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
