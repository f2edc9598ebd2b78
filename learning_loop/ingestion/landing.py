"""Load the landing zone into the warehouse (SPEC §1–2, §9).

Every kind goes through the same steps: read the file as raw text, reject it
when a required column is missing, validate its rows with the kind's rules
(`domain.validation`), load the valid rows into the kind's table (a later row
for the same key — `KEY_COLUMNS` — supersedes an earlier one), quarantine the
others with their reason, and write the ledger row. Only the metrics rules
need something more than the file (the published videos).

Files load in kind order (`LANDING_KINDS`: videos before metrics, so the
observed-before-publish rule can see the videos; then labels, judgments,
decisions), then file-name order, then row order. `kinds` restricts a run to
some kinds: the `ingest_landing` job loads videos and metrics, the
`load_feeds` job the active-learning feeds. Each file is one transaction: its
rows, its quarantined rows and its ledger row commit together or not at all.
A file whose SHA-256 is already in the ledger for its kind is skipped;
nothing on disk is ever modified or deleted.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from learning_loop.domain.validation import (
    KEY_COLUMNS,
    ROW_VALIDATORS,
    Validated,
    feature_columns,
    latest_per_key,
    missing_columns,
    validate_metrics,
)
from learning_loop.settings import LANDING_KINDS
from learning_loop.warehouse.backend import Transaction, Warehouse

SUPPORTED_SUFFIXES = (".csv", ".parquet")
#: Warehouse table of each landing kind (SPEC §7, §9).
TABLE_FOR_KIND = {
    "videos": "videos",
    "metrics": "metric_snapshots",
    "labels": "labels",
    "judgments": "judgments",
    "decisions": "decisions",
}


class FileRejected(Exception):
    """The file cannot be read at all; nothing of it loads."""


@dataclass
class FileResult:
    kind: str
    file_name: str
    sha256: str
    status: str  # loaded | rejected | skipped
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


def read_landing_file(path: Path) -> pd.DataFrame:
    """The file's cells as raw text (None for empty) plus a 1-based `row_number`."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejected(f"unsupported file type {suffix or '(none)'}: expected .csv or .parquet")
    try:
        if suffix == ".csv":
            # index_col=False: a row with more fields than the header must not turn the first
            # column into an index (that would shift every value one column to the left);
            # pandas warns instead, and such a file is rejected rather than loaded misaligned.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8", index_col=False
                )
            frame = frame.astype(object)
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            frame = pd.DataFrame(
                {name: [_text_cell(v) for v in table.column(name).to_pylist()] for name in table.column_names},
                dtype=object,
            )
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except pd.errors.ParserWarning as exc:
        raise FileRejected("malformed csv file: a data row has more fields than the header") from exc
    except pd.errors.EmptyDataError as exc:
        raise FileRejected("empty file: no header row") from exc
    except Exception as exc:  # any parser failure means the file cannot be read at all
        raise FileRejected(f"cannot read {suffix[1:]} file: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["row_number"] = range(1, len(frame) + 1)
    return frame


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


def ingest_landing(
    warehouse: Warehouse,
    root: Path,
    progress: Callable[[str], None] | None = None,
    kinds: Sequence[str] | None = None,
) -> IngestReport:
    """Load every new or changed landing file of `kinds` (default all); returns what happened to each."""
    selected = _check_kinds(kinds)
    with warehouse.session():
        return _ingest_all(warehouse, root, progress, selected)


def _ingest_all(
    warehouse: Warehouse, root: Path, progress: Callable[[str], None] | None, kinds: tuple[str, ...]
) -> IngestReport:
    warehouse.ensure_schema()
    known = set(
        warehouse.query_df("SELECT kind, sha256 FROM ingested_files").itertuples(index=False, name=None)
    )
    report = IngestReport()
    files = landing_files(root, kinds)
    for index, (kind, path) in enumerate(files, start=1):
        digest = sha256_file(path)
        if (kind, digest) in known:
            report.files.append(FileResult(kind, path.name, digest, "skipped", reason="already loaded (same SHA-256)"))
            continue
        result, late = _ingest_file(warehouse, kind, path, digest)
        known.add((kind, digest))
        report.files.append(result)
        report.late_quarantined += late
        if progress:
            progress(
                f"[{index}/{len(files)}] {kind}/{path.name}: {result.status}, "
                f"{result.rows_loaded} loaded, {result.rows_quarantined} quarantined"
                + (f" ({result.reason})" if result.reason else "")
            )
    return report


def _ingest_file(warehouse: Warehouse, kind: str, path: Path, digest: str) -> tuple[FileResult, int]:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        raw = read_landing_file(path)
        missing = missing_columns(kind, [c for c in raw.columns if c != "row_number"])
        if missing:
            raise FileRejected(f"missing required columns: {', '.join(missing)}")
    except FileRejected as exc:
        result = FileResult(kind, path.name, digest, "rejected", reason=str(exc))
        with warehouse.transaction() as tx:
            _write_ledger(tx, result, now)
        return result, 0

    late = 0
    with warehouse.transaction() as tx:
        validated = _validate(tx, kind, raw)
        _load_rows(tx, kind, path.name, validated, now)
        _write_quarantine(tx, kind, path.name, validated.quarantined, now)
        result = FileResult(
            kind,
            path.name,
            digest,
            "loaded",
            rows_read=len(raw),
            rows_loaded=len(validated.valid),
            rows_quarantined=len(validated.quarantined),
        )
        _write_ledger(tx, result, now)
        if kind == "videos":
            late = _quarantine_early_snapshots(tx, path.name, now)
    return result, late


def _validate(tx: Transaction, kind: str, raw: pd.DataFrame) -> Validated:
    """The kind's row rules; metrics also see the videos already published (SPEC §2)."""
    if kind == "metrics":
        return validate_metrics(raw, _published_for(tx, raw))
    return ROW_VALIDATORS[kind](raw)


def _published_for(tx: Transaction, raw: pd.DataFrame) -> pd.DataFrame:
    projects = sorted({p.strip() for p in raw.get("project_id", pd.Series(dtype=object)).dropna() if str(p).strip()})
    if not projects:
        return pd.DataFrame(columns=["project_id", "video_id", "published_at"])
    frames = [
        tx.query_df("SELECT project_id, video_id, published_at FROM videos WHERE project_id = :p", {"p": p})
        for p in projects
    ]
    return pd.concat(frames, ignore_index=True)


def _load_rows(tx: Transaction, kind: str, file_name: str, validated: Validated, now: datetime) -> None:
    table = TABLE_FOR_KIND[kind]
    keys = list(KEY_COLUMNS[kind])
    rows = latest_per_key(validated.valid, keys)
    if rows.empty:
        return
    # labels keep their features as the JSON text column `features`; the f_<name> columns go
    rows = rows.drop(columns=feature_columns(rows.columns))
    rows = rows.rename(columns={"row_number": "source_row"})
    rows["source_file"] = file_name
    rows["loaded_at"] = now
    tx.insert_df(table, rows)
    key_match = " AND ".join(f"n.{k} = {table}.{k}" for k in keys)
    tx.execute(
        f"DELETE FROM {table} WHERE NOT (source_file = :f AND loaded_at = :ts) AND EXISTS "
        f"(SELECT 1 FROM {table} n WHERE n.source_file = :f AND n.loaded_at = :ts AND {key_match})",
        {"f": file_name, "ts": now},
    )


def _write_quarantine(tx: Transaction, kind: str, file_name: str, bad: pd.DataFrame, now: datetime) -> None:
    if bad.empty:
        return
    frame = bad.copy()
    frame["kind"] = kind
    frame["file_name"] = file_name
    frame["quarantined_at"] = now
    tx.insert_df("quarantine", frame)


def _write_ledger(tx: Transaction, result: FileResult, now: datetime) -> None:
    frame = pd.DataFrame([{**asdict(result), "loaded_at": now}])
    tx.insert_df("ingested_files", frame)


def _quarantine_early_snapshots(tx: Transaction, file_name: str, now: datetime) -> int:
    """Snapshots loaded before their video arrived, now known to precede its publish time."""
    early = tx.query_df(
        "SELECT m.* FROM metric_snapshots m JOIN videos v "
        "ON m.project_id = v.project_id AND m.video_id = v.video_id "
        "WHERE v.source_file = :f AND v.loaded_at = :ts AND m.observed_at < v.published_at",
        {"f": file_name, "ts": now},
    )
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
    for row in early.itertuples(index=False):
        tx.execute(
            "DELETE FROM metric_snapshots WHERE project_id = :p AND video_id = :v AND observed_at = :o",
            {"p": row.project_id, "v": row.video_id, "o": row.observed_at},
        )
    per_file = early.groupby(["source_file", "loaded_at"]).size()
    for (source_file, loaded_at), moved in per_file.items():
        tx.execute(
            "UPDATE ingested_files SET rows_loaded = rows_loaded - :n, rows_quarantined = rows_quarantined + :n "
            "WHERE kind = 'metrics' AND file_name = :f AND loaded_at = :ts",
            {"n": int(moved), "f": source_file, "ts": loaded_at},
        )
    return len(early)
