"""Load the landing zone into the warehouse (SPEC §1–2, §9).

Every kind goes through the same steps: read the file as raw text, reject it
when it cannot be read (not CSV/Parquet, not UTF-8, ragged rows, a repeated
column name, a missing required column), validate its rows with the kind's
rules (`domain.validation`), load the valid rows into the kind's table (a
later row for the same key — `KEY_COLUMNS` — supersedes an earlier one),
quarantine the others with their reason, and write the ledger row. Only the
metrics rules need something more than the file (the published videos).

Files load in kind order (`LANDING_KINDS`: videos before metrics, so the
observed-before-publish rule can see the videos; then labels, judgments,
decisions), then file-name order, then row order. `kinds` restricts a run to
some kinds: the `ingest_landing` job loads videos and metrics, the
`load_feeds` job the active-learning feeds. A file whose SHA-256 is already in
the ledger for its kind is skipped; nothing on disk is ever modified or
deleted.

**Batches.** Consecutive files of one kind with the same header are loaded
together, up to `BATCH_MAX_FILES` files or `BATCH_MAX_ROWS` rows: their rows
are validated in one SQL pass (`domain.validation`, DuckDB over Arrow) and
written in ONE transaction with their quarantined rows and one ledger row per
file, so a batch commits whole or not at all (a process killed mid-batch leaves
no trace of it; the next run loads those files again). The result is the same
as loading the files one by one: rows are validated per row, the last row per
key wins in file-then-row order, and every file gets its own ledger row and
counts. Rows stay Arrow columns from the CSV reader to the warehouse: DuckDB
scans the batch's staged rows in place, PostgreSQL receives them by `COPY`
into a temporary table. Supersede joins that stage on the key (the key index on
PostgreSQL, zone maps on `observed_at` in DuckDB), so its cost follows the new
rows, not the table's history.

**No poison file.** If a batch fails for any reason other than the warehouse
being unreachable, it is retried file by file; a file that still fails is
recorded `rejected` with the error as its reason, and the files after it load.
Values PostgreSQL cannot store (a NUL byte in text) are a quarantine reason on
both backends (`domain.validation`), and every reason written is made storable.

**Files still being written.** A file modified less than `settle_s` seconds
ago (size and modification time not yet stable for that long) is reported
`pending`: not read, not recorded in the ledger, loaded by a later run once
it has been stable long enough. The sensors use the same window
(`stable_landing_files`), so a tick never requests a run for a half-written
file. A file that changes while it is read is also left `pending`. Writers
that cannot guarantee a pause of `settle_s` between their writes should write
to a hidden name (`.name.csv`, ignored) and rename it into place: a rename is
atomic and the renamed file keeps the mtime of its last write.

An unchanged file is recognised by its size and modification time recorded
in the ledger (`size_bytes`, `mtime_ns`, only stored when the file was older
than one second when hashed), so a landing zone holding years of files is not
re-hashed on every run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from learning_loop.domain.validation import (
    KEY_COLUMNS,
    ROW_VALIDATORS,
    Validated,
    distinct_keys,
    feature_columns,
    latest_per_key,
    missing_columns,
    storable_text,
    validate_metrics,
)
from learning_loop.settings import LANDING_KINDS
from learning_loop.warehouse.backend import Transaction, Warehouse, WarehouseError
from learning_loop.warehouse.schema import TABLES, Table

SUPPORTED_SUFFIXES = (".csv", ".parquet")
#: Warehouse table of each landing kind (SPEC §7, §9).
TABLE_FOR_KIND = {
    "videos": "videos",
    "metrics": "metric_snapshots",
    "labels": "labels",
    "judgments": "judgments",
    "decisions": "decisions",
    "retrieval_pairs": "retrieval_pairs",
}
#: A batch holds at most this many files ...
BATCH_MAX_FILES = 500
#: ... and at most about this many rows (a bigger file is a batch of its own; a batch of a million
#: rows holds a few hundred MB of Arrow columns while it is validated).
BATCH_MAX_ROWS = 1_000_000
#: A file hashed when younger than this has no size/mtime shortcut recorded (it could change again
#: within the file system's timestamp granularity without changing its recorded mtime).
RACY_WINDOW_S = 1.0


class FileRejected(Exception):
    """The file cannot be read at all; nothing of it loads."""


@dataclass
class FileResult:
    kind: str
    file_name: str
    sha256: str
    status: str  # loaded | rejected | skipped | pending (still being written: not recorded)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    late_quarantined: int = 0  # snapshots moved to quarantine when their video arrived later

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def summary(self) -> dict[str, int]:
        return {
            "files_loaded": self.count("loaded"),
            "files_rejected": self.count("rejected"),
            "files_skipped": self.count("skipped"),
            "files_pending": self.count("pending"),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "late_quarantined": self.late_quarantined,
        }

    def to_dict(self) -> dict:
        return {**self.summary(), "files": [asdict(f) for f in self.files]}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _text_cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_header(path: Path) -> list[str]:
    """The header row as written (BOM removed), to catch what pandas would rename (`topic,topic`)."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _repeated(names: list[str]) -> list[str]:
    stripped = [n.strip() for n in names]
    return sorted({n for n in stripped if stripped.count(n) > 1})


def _read_csv_strict(path: Path, header: list[str]) -> pa.Table | None:
    """The fast path: Arrow's multi-threaded reader, every column as text. It only accepts files
    where every row has exactly the header's fields and all is UTF-8; anything else (None) goes to
    the pandas reader, whose rules (and rejection reasons) are the reference."""
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError):
        return None
    if table.column_names != header or any(not pa.types.is_string(t) for t in table.schema.types):
        return None
    return table


def read_landing_file(path: Path) -> pa.Table:
    """The file's cells as raw text (None or "" for empty) plus a 1-based `row_number`, as Arrow."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejected(f"unsupported file type {suffix or '(none)'}: expected .csv or .parquet")
    try:
        if suffix == ".csv":
            header = _csv_header(path)
            frame = None if _repeated(header) else _read_csv_strict(path, header)
        if suffix == ".csv" and frame is None:
            # index_col=False: a row with more fields than the header must not turn the first
            # column into an index (that would shift every value one column to the left);
            # pandas warns instead, and such a file is rejected rather than loaded misaligned.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8", index_col=False
                )
            frame = pa.table([pa.array(frame[c].to_numpy(dtype=object), pa.string()) for c in frame.columns],
                             names=[str(c) for c in frame.columns])
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            header = list(table.column_names)
            if not _repeated(header):
                frame = pa.table(
                    [pa.array([_text_cell(v) for v in table.column(name).to_pylist()], pa.string()) for name in header],
                    names=header,
                )
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except pd.errors.ParserWarning as exc:
        raise FileRejected("malformed csv file: a data row has more fields than the header") from exc
    except pd.errors.EmptyDataError as exc:
        raise FileRejected("empty file: no header row") from exc
    except Exception as exc:  # any parser failure means the file cannot be read at all
        raise FileRejected(f"cannot read {suffix[1:]} file: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    repeated = _repeated(header)
    if repeated:
        raise FileRejected(f"repeated column name(s) in the header: {', '.join(repeated)}")
    frame = frame.rename_columns([str(c).strip() for c in frame.column_names])
    if "row_number" in frame.column_names:  # no kind has such a column: ours (the data row number) replaces it
        frame = frame.drop_columns(["row_number"])
    return frame.append_column("row_number", pa.array(np.arange(1, frame.num_rows + 1, dtype="int64")))


def _check_kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The requested kinds in processing order (all when None); an unknown kind is a ValueError."""
    if kinds is None:
        return LANDING_KINDS
    unknown = sorted(set(kinds) - set(LANDING_KINDS))
    if unknown:
        raise ValueError(f"unknown landing kind(s) {', '.join(unknown)}: expected some of {', '.join(LANDING_KINDS)}")
    return tuple(k for k in LANDING_KINDS if k in kinds)


def landing_files(root: Path, kinds: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """(kind, path) in processing order, of `kinds` (default every landing kind); hidden files are ignored."""
    found: list[tuple[str, Path]] = []
    for kind in _check_kinds(kinds):
        folder = root / kind
        if folder.is_dir():
            found.extend(
                (kind, p) for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.is_file() and not p.name.startswith(".")
            )
    return found


def is_settled(mtime_s: float, settle_s: float, now_s: float | None = None) -> bool:
    """Whether a file last modified at `mtime_s` (epoch seconds) has been left alone for `settle_s`."""
    if settle_s <= 0:
        return True
    return (time.time() if now_s is None else now_s) - mtime_s >= settle_s


def stable_landing_files(
    root: Path, kinds: Sequence[str] | None = None, settle_s: float = 0.0, now_s: float | None = None
) -> tuple[list[tuple[str, Path, int, int]], int]:
    """The landing files whose size and mtime have been stable for `settle_s` seconds, as
    (kind, path, size, mtime_ns) in processing order, and how many files are still too fresh."""
    now_s = time.time() if now_s is None else now_s
    stable, fresh = [], 0
    for kind, path in landing_files(root, kinds):
        try:
            stat = path.stat()
        except FileNotFoundError:  # renamed or removed since the listing
            continue
        if is_settled(stat.st_mtime, settle_s, now_s):
            stable.append((kind, path, stat.st_size, stat.st_mtime_ns))
        else:
            fresh += 1
    return stable, fresh


def landing_fingerprint(root: Path, kinds: Sequence[str], settle_s: float = 0.0, now_s: float | None = None) -> tuple[str, int, int]:
    """A digest of the listing (kind, name, size, mtime) of the settled files of `kinds`, their
    count and the count of files still being written (left out until they settle)."""
    stable, fresh = stable_landing_files(root, kinds, settle_s, now_s)
    listing = [[kind, path.name, size, mtime_ns] for kind, path, size, mtime_ns in stable]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest(), len(listing), fresh


def ingest_landing(
    warehouse: Warehouse,
    root: Path,
    progress: Callable[[str], None] | None = None,
    kinds: Sequence[str] | None = None,
    settle_s: float = 0.0,
) -> IngestReport:
    """Load every new or changed landing file of `kinds` (default all) that has been stable for
    `settle_s` seconds; returns what happened to each."""
    selected = _check_kinds(kinds)
    with warehouse.session():
        return _Ingestion(warehouse, progress, settle_s).run(root, selected)


# --------------------------------------------------------------------------- the run


@dataclass
class _File:
    kind: str
    path: Path
    digest: str
    size: int | None
    mtime_ns: int | None
    rows_read: pa.Table | None = None  # None: rejected when read
    rejected: str | None = None

    @property
    def header(self) -> tuple[str, ...] | None:
        return None if self.rows_read is None else tuple(self.rows_read.column_names)

    @property
    def rows(self) -> int:
        return 0 if self.rows_read is None else self.rows_read.num_rows

    def result(self, status: str, reason: str | None = None) -> FileResult:
        return FileResult(self.kind, self.path.name, self.digest, status, reason=reason)


def _transient(exc: BaseException) -> bool:
    """A warehouse that cannot be reached or went away: the run fails (and is retried); no file is blamed."""
    if isinstance(exc, WarehouseError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"OperationalError", "InterfaceError", "DisconnectionError", "IOException", "ConnectionException"}:
        return True
    cause = getattr(exc, "orig", None)
    return cause is not None and cause is not exc and _transient(cause)


class _Ingestion:
    def __init__(self, warehouse: Warehouse, progress: Callable[[str], None] | None, settle_s: float) -> None:
        self.wh = warehouse
        self.progress = progress
        self.settle_s = settle_s
        self.report = IngestReport()
        self.last_now: datetime | None = None
        self.done = 0
        self.total = 0

    def now(self) -> datetime:
        """Load time of a batch, strictly increasing within the run (rows of a batch share it)."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if self.last_now is not None and now <= self.last_now:
            now = self.last_now + timedelta(microseconds=1)
        self.last_now = now
        return now

    def run(self, root: Path, kinds: tuple[str, ...]) -> IngestReport:
        self.wh.ensure_schema()
        ledger = self.wh.query_df("SELECT kind, file_name, sha256, size_bytes, mtime_ns FROM ingested_files")
        self.known = set(zip(ledger["kind"], ledger["sha256"]))
        with_stat = ledger.dropna(subset=["size_bytes", "mtime_ns"])
        self.by_stat = {
            (k, n, int(s), int(m)): d
            for k, n, d, s, m in with_stat[["kind", "file_name", "sha256", "size_bytes", "mtime_ns"]].itertuples(
                index=False, name=None
            )
        }
        files = landing_files(root, kinds)
        self.total = len(files)
        now_s = time.time()
        batch: list[_File] = []
        for kind, path in files:
            if batch and (batch[0].kind != kind):
                self.flush(batch)
                batch = []
            item = self.prepare(kind, path, now_s)
            if item is None:
                continue
            if batch and (
                (item.header is not None and batch[0].header is not None and item.header != batch[0].header)
                or len(batch) >= BATCH_MAX_FILES
                or sum(f.rows for f in batch) + item.rows > BATCH_MAX_ROWS
            ):
                self.flush(batch)
                batch = []
            batch.append(item)
        if batch:
            self.flush(batch)
        return self.report

    def note(self, result: FileResult) -> None:
        self.report.files.append(result)
        self.done += 1
        if self.progress and result.status != "skipped":
            self.progress(
                f"[{self.done}/{self.total}] {result.kind}/{result.file_name}: {result.status}, "
                f"{result.rows_loaded} loaded, {result.rows_quarantined} quarantined"
                + (f" ({result.reason})" if result.reason else "")
            )

    def prepare(self, kind: str, path: Path, now_s: float) -> _File | None:
        """Hash and read one file; None when it is skipped (known) or pending (still being written)."""
        try:
            before = path.stat()
        except FileNotFoundError:
            return None
        if not is_settled(before.st_mtime, self.settle_s, now_s):
            self.note(FileResult(kind, path.name, "", "pending", reason=f"modified less than {self.settle_s:g} s ago"))
            return None
        try:
            digest = self.by_stat.get((kind, path.name, before.st_size, before.st_mtime_ns)) or sha256_file(path)
        except FileNotFoundError:  # renamed or removed since the listing: nothing to record
            return None
        if (kind, digest) in self.known:
            self.note(FileResult(kind, path.name, digest, "skipped", reason="already loaded (same SHA-256)"))
            return None
        old_enough = now_s - before.st_mtime >= RACY_WINDOW_S
        item = _File(kind, path, digest, before.st_size if old_enough else None, before.st_mtime_ns if old_enough else None)
        try:
            item.rows_read = read_landing_file(path)
            missing = missing_columns(kind, [c for c in item.rows_read.column_names if c != "row_number"])
            if missing:
                raise FileRejected(f"missing required columns: {', '.join(missing)}")
        except FileRejected as exc:
            item.rows_read, item.rejected = None, str(exc)
        try:
            after = path.stat()
        except FileNotFoundError:
            return None
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            self.note(FileResult(kind, path.name, "", "pending", reason="modified while it was read"))
            return None
        self.known.add((kind, digest))
        return item

    def flush(self, batch: list[_File]) -> None:
        try:
            with self.wh.transaction() as tx:
                results, late = _load_batch(tx, batch, self.now())
        except Exception as exc:
            if _transient(exc):
                raise
            if len(batch) == 1:
                results, late = [self.reject(batch[0], exc)], 0
            else:  # one file spoils the batch: load them one by one, so only that one is rejected
                for item in batch:
                    self.flush([item])
                return
        self.report.late_quarantined += late
        for result in results:
            self.note(result)

    def reject(self, item: _File, exc: Exception) -> FileResult:
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        result = item.result("rejected", storable_text(f"could not be loaded: {message}"))
        with self.wh.transaction() as tx:
            _write_ledger(tx, [(result, item)], self.now())
        return result


# --------------------------------------------------------------------------- one batch, one transaction


def _load_batch(tx: Transaction, batch: list[_File], now: datetime) -> tuple[list[FileResult], int]:
    """Validate and write a batch of files of one kind; returns their results (in file order) and
    how many snapshots moved to quarantine because a video of the batch arrived after them."""
    kind = batch[0].kind
    readable = [f for f in batch if f.rows_read is not None]
    results: dict[int, FileResult] = {
        id(f): f.result("rejected", storable_text(f.rejected or "")) for f in batch if f.rows_read is None
    }
    late, stage = 0, None
    if readable:
        sizes = np.array([f.rows for f in readable], dtype="int64")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        tables = []
        for f, start in zip(readable, starts):
            table = f.rows_read
            if start:  # row numbers run on across the batch; `locate` maps them back to (file, row)
                table = table.set_column(table.schema.get_field_index("row_number"), "row_number",
                                         pc.add(table["row_number"], pa.scalar(int(start), pa.int64())))
            tables.append(table)
        raw = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        validated = _validate(tx, kind, raw)
        names = pa.array([f.path.name for f in readable], pa.string())
        ends = np.cumsum(sizes)

        def locate(row_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            which = np.searchsorted(ends, row_numbers, side="left")
            return which, row_numbers - starts[which]

        valid = validated.table
        which, local = locate(valid["row_number"].to_numpy())
        valid = valid.append_column("__order", valid["row_number"])  # batch order, for supersede
        valid = valid.set_column(valid.schema.get_field_index("row_number"), "row_number", pa.array(local, pa.int64()))
        valid = valid.append_column("source_file", pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), names))
        loaded = np.bincount(which, minlength=len(readable))
        bad = validated.quarantined
        qwhich, qlocal = locate(bad["row_number"].to_numpy(dtype="int64"))
        quarantined = np.bincount(qwhich, minlength=len(readable))
        stage = _load_rows(tx, kind, valid, now)
        if len(bad):
            file_names = names.to_numpy(zero_copy_only=False)
            _write_quarantine(tx, kind, bad.assign(file_name=file_names[qwhich], row_number=qlocal), now)
        for i, f in enumerate(readable):
            results[id(f)] = FileResult(
                kind, f.path.name, f.digest, "loaded",
                rows_read=int(sizes[i]), rows_loaded=int(loaded[i]), rows_quarantined=int(quarantined[i]),
            )
    ordered = [results[id(f)] for f in batch]
    _write_ledger(tx, list(zip(ordered, batch)), now)
    if stage is not None:
        if kind == "videos":
            late = _quarantine_early_snapshots(tx, stage, now)
        tx.drop_stage(stage)
    return ordered, late


def _validate(tx: Transaction, kind: str, raw: pa.Table) -> Validated:
    """The kind's row rules; metrics also see the videos already published (SPEC §2)."""
    if kind == "metrics":
        return validate_metrics(raw, _published_for(tx, raw))
    return ROW_VALIDATORS[kind](raw)


def _published_for(tx: Transaction, raw: pa.Table) -> pa.Table | pd.DataFrame:
    """Publish times of the videos the metric rows name (only those: the cost follows the file)."""
    keys = distinct_keys(raw, ["project_id", "video_id"])
    if keys.num_rows == 0:
        return pd.DataFrame(columns=["project_id", "video_id", "published_at"])
    name = "ll_stage_keys"
    tx.stage_arrow(name, (("project_id", "text"), ("video_id", "text")), keys)
    try:
        return tx.query_arrow(
            f"SELECT v.project_id, v.video_id, v.published_at FROM videos v JOIN {name} k "
            "ON v.project_id = k.project_id AND v.video_id = k.video_id"
        )
    finally:
        tx.drop_stage(name)


def _load_rows(tx: Transaction, kind: str, valid: pa.Table, now: datetime) -> str | None:
    """Stage the batch's latest row per key, delete the older rows of those keys, insert the staged
    rows. Returns the staging table's name (kept for the caller, which drops it)."""
    table = TABLE_FOR_KIND[kind]
    keys = list(KEY_COLUMNS[kind])
    rows = latest_per_key(valid, keys, order="__order").drop_columns(["__order"])
    if rows.num_rows == 0:
        return None
    # labels keep their features as the JSON text column `features`; the f_<name> columns go
    rows = rows.drop_columns(feature_columns(rows.column_names))
    rows = rows.rename_columns(["source_row" if c == "row_number" else c for c in rows.column_names])
    rows = rows.append_column("loaded_at", pa.array(np.full(rows.num_rows, np.datetime64(now, "us"))))
    contract = TABLES[table]
    stage = f"ll_stage_{table}"
    present = Table(table, tuple((c, k) for c, k in contract.columns if c in rows.column_names))
    tx.stage_arrow(stage, present.columns, rows)
    names = present.column_list
    key_match = " AND ".join(f's."{k}" = {table}."{k}"' for k in keys)
    bounds, params = "", {}
    if kind == "metrics":  # lets DuckDB skip row groups by their min/max observed_at
        observed = pc.min_max(rows["observed_at"])
        bounds, params = "observed_at BETWEEN :lo AND :hi AND ", {"lo": observed["min"].as_py(), "hi": observed["max"].as_py()}
    tx.execute(f"DELETE FROM {table} WHERE {bounds}EXISTS (SELECT 1 FROM {stage} s WHERE {key_match})", params)
    tx.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}")
    return stage


def _write_quarantine(tx: Transaction, kind: str, bad: pd.DataFrame, now: datetime) -> None:
    if bad.empty:
        return
    frame = bad.copy()
    frame["kind"] = kind
    frame["quarantined_at"] = now
    tx.insert_df("quarantine", frame)


def _write_ledger(tx: Transaction, entries: list[tuple[FileResult, _File]], now: datetime) -> None:
    frame = pd.DataFrame(
        [{**asdict(result), "loaded_at": now, "size_bytes": item.size, "mtime_ns": item.mtime_ns} for result, item in entries]
    )
    tx.insert_df("ingested_files", frame)


def _quarantine_early_snapshots(tx: Transaction, stage: str, now: datetime) -> int:
    """Snapshots loaded before their video arrived, now known to precede its publish time
    (`stage`: the batch's staged videos)."""
    match = (
        "v.project_id = metric_snapshots.project_id AND v.video_id = metric_snapshots.video_id "
        "AND metric_snapshots.observed_at < v.published_at"
    )
    early = tx.query_df(f"SELECT metric_snapshots.* FROM metric_snapshots JOIN {stage} v ON {match}")
    if early.empty:
        return 0
    payload = early.drop(columns=["source_file", "source_row", "loaded_at"]).astype(object)
    payload = payload.where(payload.notna(), None)
    quarantined = pd.DataFrame(
        {
            "kind": "metrics",
            "file_name": early["source_file"],
            "row_number": early["source_row"],
            "reason": "observed_at before the video's published_at (found when the video arrived)",
            "raw": payload.apply(lambda r: json.dumps(r.to_dict(), default=str), axis=1),
            "quarantined_at": now,
        }
    )
    tx.insert_df("quarantine", quarantined)
    tx.execute(f"DELETE FROM metric_snapshots WHERE EXISTS (SELECT 1 FROM {stage} v WHERE {match})")
    per_file = early.groupby(["source_file", "loaded_at"]).size()
    for (source_file, loaded_at), moved in per_file.items():
        tx.execute(
            "UPDATE ingested_files SET rows_loaded = rows_loaded - :n, rows_quarantined = rows_quarantined + :n "
            "WHERE kind = 'metrics' AND file_name = :f AND loaded_at = :ts",
            {"n": int(moved), "f": source_file, "ts": loaded_at},
        )
    return len(early)
