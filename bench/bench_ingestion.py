"""Ingestion throughput: the landing-zone engine against one bulk `read_csv`/`COPY` of the same rows.

    python bench/bench_ingestion.py                 # 1,000 files x 100 rows, 10 files x 100,000 rows, hourly file
    python bench/bench_ingestion.py --quick         # 200 x 100, 4 x 25,000 and a smaller history
    python bench/bench_ingestion.py --postgres postgresql://postgres@127.0.0.1:5432/postgres   # also on PostgreSQL

Scenarios (each on a fresh warehouse, files written once under a temporary folder):

1. **small**: `--small-files` files of 100 rows, half videos and half metrics (the metric rows
   refer to the videos, so the observed-before-publish rule runs against real videos).
2. **large**: `--large-files` files of `--large-rows` rows, half videos and half metrics.
3. **hourly**: a history of `--history-days` days of hourly metric files (plus the videos they
   observe) is ingested, then one new hourly file is ingested and timed; once with 1x and once
   with 10x the history. Cost must grow with the new data, not with the history.

"limit" is the practical floor: the same rows read from the same files into a plain table in one
statement (DuckDB: `CREATE TABLE ... AS SELECT * FROM read_csv([...], all_varchar=true)`;
PostgreSQL: one `COPY` per file in one transaction). "engine" is `ingest_landing` (reading, the
row rules, quarantine, supersede, ledger), without Dagster. The machine's load average is printed
next to the numbers because other work shares it.

The last line is machine-readable: `RESULT small_ratio=... large_ratio=... history_ratio=...`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_loop.ingestion.landing import ingest_landing  # noqa: E402
from learning_loop.warehouse.backend import open_warehouse  # noqa: E402

VIDEO_HEADER = ["project_id", "video_id", "published_at", "topic", "preset", "hook_type", "scene_count",
                "ending_type", "narration_wpm", "caption_density", "quality_score"]
METRIC_HEADER = ["project_id", "video_id", "observed_at", "views", "likes", "comments", "avg_view_duration_s",
                 "followers_gained", "shares"]
HOOKS = ("question", "statement", "visual", "story", "contrast", "mystery")
ENDINGS = ("cliffhanger", "resolve", "cta", "loop")
T0 = datetime(2024, 1, 1)


def video_rows(start: int, count: int, projects: int = 20) -> list[list[str]]:
    rows = []
    for i in range(start, start + count):
        published = T0 + timedelta(minutes=(i * 7) % (60 * 24 * 30))
        rows.append([
            f"p{i % projects}", f"v{i}", published.isoformat() + "Z", f"topic {i % 997}", "DARK_DYSTOPIAN_ANIME",
            HOOKS[i % 6], str(5 + i % 6), ENDINGS[i % 4], str(100 + i % 90), f"{(i % 90) / 100:.2f}",
            f"{(i % 100) / 100:.2f}",
        ])
    return rows


def metric_rows(video_ids: range, observed: datetime, seq: int, projects: int = 20) -> list[list[str]]:
    rows = []
    for n, i in enumerate(video_ids):
        at = observed + timedelta(seconds=n % 3600)
        views = 100 + seq * 10 + i % 50
        rows.append([f"p{i % projects}", f"v{i}", at.isoformat(), str(views), str(views // 10), str(views // 50),
                     f"{10 + i % 30}.5", str(i % 3), ""])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_batch(root: Path, files: int, rows: int) -> dict[str, list[Path]]:
    """`files` files of `rows` rows, the first half videos, the second half metrics of those videos."""
    out: dict[str, list[Path]] = {"videos": [], "metrics": []}
    n_videos = max(files // 2, 1)
    for f in range(n_videos):
        path = root / "videos" / f"v{f:05d}.csv"
        write_csv(path, VIDEO_HEADER, video_rows(f * rows, rows))
        out["videos"].append(path)
    total_videos = n_videos * rows
    for f in range(files - n_videos):
        start = (f * rows) % total_videos
        path = root / "metrics" / f"m{f:05d}.csv"
        write_csv(path, METRIC_HEADER, metric_rows(range(start, start + rows), T0 + timedelta(days=40, hours=f), f))
        out["metrics"].append(path)
    return out


def fresh_url(kind: str, folder: Path, pg_admin: str | None) -> tuple[str, callable]:
    if kind == "duckdb":
        path = folder / f"wh_{uuid.uuid4().hex[:8]}.duckdb"
        return f"duckdb:///{path}", lambda: path.unlink(missing_ok=True)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ll_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from learning_loop.warehouse import backend

        backend._pg_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return make_url(pg_admin).set(database=name).render_as_string(hide_password=False), drop


def limit_seconds(kind: str, url: str, files: dict[str, list[Path]]) -> float:
    """One bulk read of the same files into plain tables (all columns as text)."""
    start = time.perf_counter()
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect(url[len("duckdb:///"):])
        for name, paths in files.items():
            if paths:
                listing = ", ".join(f"'{p}'" for p in paths)
                con.execute(f"CREATE TABLE plain_{name} AS SELECT * FROM read_csv([{listing}], all_varchar=true, header=true)")
        con.close()
    else:
        import psycopg2

        conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1))
        with conn, conn.cursor() as cur:
            for name, paths in files.items():
                header = VIDEO_HEADER if name == "videos" else METRIC_HEADER
                cur.execute(f"CREATE TABLE plain_{name} ({', '.join(f'{c} text' for c in header)})")
                for p in paths:
                    with p.open() as handle:
                        cur.copy_expert(f"COPY plain_{name} FROM STDIN WITH (FORMAT csv, HEADER true)", handle)
        conn.close()
    return time.perf_counter() - start


def link_landing(files: dict[str, list[Path]], landing: Path) -> None:
    for kind, paths in files.items():
        (landing / kind).mkdir(parents=True, exist_ok=True)
        for p in paths:
            target = landing / kind / p.name
            if not target.exists():
                os.link(p, target)


def engine_seconds(url: str, landing: Path) -> tuple[float, dict]:
    wh = open_warehouse(url)
    wh.ensure_schema()
    start = time.perf_counter()
    report = ingest_landing(wh, landing)
    elapsed = time.perf_counter() - start
    summary = report.summary()
    assert summary["files_rejected"] == 0 and report.rows_read == report.rows_loaded + report.rows_quarantined, summary
    return elapsed, summary


def bulk_scenario(kind: str, work: Path, pg_admin: str | None, files: int, rows: int) -> dict:
    data = work / f"data_{files}x{rows}"
    batch = make_batch(data, files, rows)
    url, drop = fresh_url(kind, work, pg_admin)
    try:
        limit = limit_seconds(kind, url, batch)
    finally:
        drop()
    url, drop = fresh_url(kind, work, pg_admin)
    landing = work / f"landing_{uuid.uuid4().hex[:6]}"
    try:
        link_landing(batch, landing)
        elapsed, summary = engine_seconds(url, landing)
    finally:
        drop()
        shutil.rmtree(landing, ignore_errors=True)
    return {"files": files, "rows_per_file": rows, "rows": files * rows, "limit_s": limit, "engine_s": elapsed,
            "ratio": elapsed / limit, "per_file_ms": 1000 * elapsed / files, "summary": summary}


def hourly_scenario(kind: str, work: Path, pg_admin: str | None, days: int, videos: int, repeats: int) -> dict:
    """History of `days` days of hourly metric files over `videos` videos, then new hourly files, timed."""
    landing = work / f"hourly_{uuid.uuid4().hex[:6]}"
    write_csv(landing / "videos" / "videos.csv", VIDEO_HEADER, video_rows(0, videos))
    for h in range(days * 24):
        at = T0 + timedelta(days=31, hours=h)
        write_csv(landing / "metrics" / f"{at:%Y-%m-%dT%H}.csv", METRIC_HEADER, metric_rows(range(videos), at, h))
    url, drop = fresh_url(kind, work, pg_admin)
    try:
        wh = open_warehouse(url)
        wh.ensure_schema()
        start = time.perf_counter()
        ingest_landing(wh, landing)
        history_s = time.perf_counter() - start
        snapshots = int(wh.scalar("SELECT count(*) FROM metric_snapshots"))
        times = []
        for r in range(repeats):
            at = T0 + timedelta(days=31 + days, hours=r)
            write_csv(landing / "metrics" / f"{at:%Y-%m-%dT%H}.csv", METRIC_HEADER, metric_rows(range(videos), at, 10_000 + r))
            start = time.perf_counter()
            report = ingest_landing(wh, landing)
            times.append(time.perf_counter() - start)
            assert report.summary()["files_loaded"] == 1, report.summary()
    finally:
        drop()
        shutil.rmtree(landing, ignore_errors=True)
    return {"days": days, "history_files": days * 24 + 1, "history_snapshots": snapshots, "history_load_s": history_s,
            "new_file_rows": videos, "new_file_s": statistics.median(times), "samples": times}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes (200 small files, 4 x 25,000 rows, less history)")
    p.add_argument("--small-files", type=int, default=1000)
    p.add_argument("--large-files", type=int, default=10)
    p.add_argument("--large-rows", type=int, default=100_000)
    p.add_argument("--history-days", type=int, default=2, help="1x history: days of hourly files (10x is ten times)")
    p.add_argument("--history-videos", type=int, default=2000, help="videos observed per hourly file")
    p.add_argument("--repeats", type=int, default=3, help="new hourly files timed per history size (median)")
    p.add_argument("--postgres", metavar="ADMIN_URL", help="also run on PostgreSQL (a server where databases may be created)")
    p.add_argument("--only", choices=("small", "large", "hourly"), action="append", help="run only these scenarios")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.small_files, args.large_files, args.large_rows = 200, 4, 25_000
        args.history_days, args.history_videos = 1, 1000
    scenarios = args.only or ["small", "large", "hourly"]
    backends = ["duckdb"] + (["postgres"] if args.postgres else [])
    results: dict = {"quick": args.quick, "cpus": os.cpu_count(), "backends": {}}
    print(f"cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}  ({'--quick' if args.quick else 'full'} sizes)")
    with tempfile.TemporaryDirectory(prefix="ll_bench_ingest_") as tmp:
        work = Path(tmp)
        for kind in backends:
            out: dict = {}
            if "small" in scenarios:
                out["small"] = bulk_scenario(kind, work, args.postgres, args.small_files, 100)
                out["small"]["load"] = os.getloadavg()[0]
            if "large" in scenarios:
                out["large"] = bulk_scenario(kind, work, args.postgres, args.large_files, args.large_rows)
                out["large"]["load"] = os.getloadavg()[0]
            if "hourly" in scenarios:
                one = hourly_scenario(kind, work, args.postgres, args.history_days, args.history_videos, args.repeats)
                ten = hourly_scenario(kind, work, args.postgres, args.history_days * 10, args.history_videos, args.repeats)
                out["hourly"] = {"1x": one, "10x": ten, "ratio": ten["new_file_s"] / one["new_file_s"],
                                 "load": os.getloadavg()[0]}
            results["backends"][kind] = out
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    print_table(results)
    return 0


def print_table(results: dict) -> None:
    print("\n| backend | scenario | rows | limit (s) | engine (s) | engine / limit | target | load avg |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    line = {}
    for kind, out in results["backends"].items():
        for name in ("small", "large"):
            if name in out:
                r = out[name]
                print(f"| {kind} | {r['files']} files x {r['rows_per_file']:,} rows | {r['rows']:,} | {r['limit_s']:.2f} | "
                      f"{r['engine_s']:.2f} ({r['per_file_ms']:.1f} ms/file) | {r['ratio']:.2f} | <= 3 | {r['load']:.1f} |")
                line.setdefault(f"{name}_ratio", f"{r['ratio']:.2f}")
        if "hourly" in out:
            h = out["hourly"]
            for size in ("1x", "10x"):
                r = h[size]
                versus, target = ("", "") if size == "1x" else (f"{h['ratio']:.2f} (vs 1x)", "<= 2")
                print(f"| {kind} | one new hourly file, {size} history ({r['history_snapshots']:,} snapshots, "
                      f"{r['history_files']} files) | {r['new_file_rows']:,} | – | {r['new_file_s']:.3f} | "
                      f"{versus} | {target} | {h['load']:.1f} |")
            line.setdefault("history_ratio", f"{h['ratio']:.2f}")
    print("\nRESULT " + " ".join(f"{k}={v}" for k, v in line.items()))


if __name__ == "__main__":
    raise SystemExit(main())
