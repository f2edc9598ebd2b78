"""Deterministic sample landing files: a few projects over 70 days, with bad rows of each kind.

`python -m learning_loop.sample_data data/sample` regenerates `data/sample/`.
Recipes carry hidden effects, so the demo's top recipes are not noise.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from learning_loop.domain.recipe import ENDING_TYPES, HOOK_TYPES

PROJECTS = {
    "dark-anime-shorts": ["DARK_DYSTOPIAN_ANIME", "NEON_NOIR"],
    "science-explained": ["VIBRANT_MOTION_GRAPHICS", "WHITEBOARD_SKETCH"],
    "history-minutes": ["SEPIA_DOCUMENTARY", "VIBRANT_MOTION_GRAPHICS"],
}
CONTENT_TYPES = ["educational", "factual", "story", "trending"]
TOPIC_WORDS = [
    "ancient", "neon", "forgotten", "hidden", "last", "secret", "quantum", "lost", "silent", "burning",
    "temple", "city", "artifact", "signal", "river", "empire", "machine", "storm", "library", "frontier",
]
START = datetime(2024, 1, 1)
DAYS = 70
# hours after publish at which snapshots are taken (jittered)
SNAPSHOT_HOURS = (1, 3, 6, 9, 14, 24, 36, 48, 72, 120)


def _topic(rng: np.random.Generator, i: int) -> str:
    a, b, c = rng.choice(TOPIC_WORDS, 3, replace=False)
    return f"The {a} {b} of the {c} #{i}"


def _videos(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for project, presets in PROJECTS.items():
        hook_effect = dict(zip(HOOK_TYPES, rng.normal(0, 0.25, len(HOOK_TYPES))))
        ending_effect = dict(zip(ENDING_TYPES, rng.normal(0, 0.2, len(ENDING_TYPES))))
        preset_effect = dict(zip(presets, rng.normal(0, 0.2, len(presets))))
        pool = [
            (rng.choice(presets), rng.choice(HOOK_TYPES), int(rng.integers(5, 11)), rng.choice(ENDING_TYPES))
            for _ in range(14)
        ]
        n = 0
        for day in range(DAYS):
            for _ in range(int(rng.integers(3, 7))):
                n += 1
                published = START + timedelta(days=day, hours=float(rng.uniform(6, 23)))
                manual = rng.random() < 0.08
                if rng.random() < 0.85:  # teams mostly reuse a recipe from their pool
                    preset, hook, scenes, ending = pool[int(rng.integers(0, len(pool)))]
                    wpm, captions = 140.0 + float(rng.integers(-15, 16)), 0.45
                else:
                    preset, hook, ending = rng.choice(presets), rng.choice(HOOK_TYPES), rng.choice(ENDING_TYPES)
                    scenes = int(rng.integers(5, 11))
                    wpm = float(np.round(rng.uniform(100, 190), 1))
                    captions = float(np.round(rng.uniform(0.1, 0.9), 2))
                quality = float(np.clip(rng.normal(0.7, 0.12), 0, 1))
                effect = hook_effect[hook] + ending_effect[ending] + preset_effect[preset] + 0.5 * (quality - 0.7)
                rows.append(
                    {
                        "project_id": project,
                        "video_id": f"{project[:4]}-{n:05d}",
                        "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "topic": _topic(rng, n),
                        "preset": None if manual else preset,
                        "hook_type": None if manual else hook,
                        "scene_count": None if manual else scenes,
                        "narration_wpm": None if manual else wpm,
                        "caption_density": None if manual else captions,
                        "ending_type": None if manual else ending,
                        "content_type": rng.choice(CONTENT_TYPES),
                        "quality_score": round(quality, 3),
                        "novelty_score": round(float(rng.uniform(0, 1)), 3),
                        "expertise_level": round(float(rng.uniform(0, 1)), 3),
                        "viral_score": round(float(rng.uniform(0, 100)), 1),
                        "job_id": None,
                        "generation_mode": "manual" if manual else "exploit",
                        "x_effect": effect,
                        "x_published": published,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["scene_count"] = frame["scene_count"].astype("Int64")
    return frame


def _snapshots(rng: np.random.Generator, videos: pd.DataFrame) -> pd.DataFrame:
    rows = []
    horizon = START + timedelta(days=DAYS + 2)
    for v in videos.itertuples(index=False):
        scale = float(np.exp(7 + v.x_effect + rng.normal(0, 0.5)))
        avd = float(np.clip(18 + 12 * v.x_effect + rng.normal(0, 3), 2, 58))
        like_rate = float(np.clip(0.04 + 0.03 * v.x_effect + rng.normal(0, 0.01), 0.001, 0.3))
        for h in SNAPSHOT_HOURS:
            if rng.random() < 0.15:
                continue  # irregular: some snapshots are missed
            observed = v.x_published + timedelta(hours=h * float(rng.uniform(0.8, 1.25)))
            if observed >= horizon:
                continue
            growth = 1 - np.exp(-h / 20)
            views = int(scale * growth)
            rows.append(
                {
                    "project_id": v.project_id,
                    "video_id": v.video_id,
                    "observed_at": observed.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                    "views": views,
                    "likes": int(views * like_rate),
                    "comments": int(views * like_rate * 0.15),
                    "avg_view_duration_s": round(avd * (0.95 + 0.1 * growth), 2),
                    "followers_gained": int(views * 0.002 * (1 + v.x_effect)) if rng.random() > 0.1 else None,
                    "shares": int(views * 0.01),
                    "x_observed": observed,
                }
            )
    return pd.DataFrame(rows)


BAD_VIDEOS = [
    ({"topic": None}, "required value missing"),
    ({"published_at": "last tuesday"}, "unparsable timestamp"),
    ({"scene_count": 12}, "scene_count outside 5-10"),
    ({"hook_type": "shouting"}, "unknown hook_type"),
    ({"ending_type": "fade"}, "unknown ending_type"),
    ({"narration_wpm": None, "narration_wpm_bucket": "very_fast"}, "unknown narration_wpm_bucket"),
    ({"quality_score": 1.7}, "score outside range"),
    ({"viral_score": "lots"}, "unparsable number"),
]
BAD_METRICS = [
    ({"views": -5}, "negative count"),
    ({"likes": "many"}, "unparsable number"),
    ({"avg_view_duration_s": "inf"}, "non-finite number"),
    ({"comments": None}, "required value missing"),
    ({"observed_at": "2024-13-45T99:00"}, "unparsable timestamp"),
    ({"observed_at": "2023-12-01T00:00:00Z"}, "observed before published_at"),
]


def _inject(frame: pd.DataFrame, bad: list[tuple[dict, str]], rng: np.random.Generator) -> pd.DataFrame:
    frame = frame.copy()
    extra = []
    for changes, _ in bad:
        row = frame.iloc[int(rng.integers(0, len(frame)))].to_dict()
        row.update(changes)
        row["video_id"] = row["video_id"] if "observed_at" in row else row["video_id"] + "-bad"
        extra.append(row)
    return pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Typed columns where the values allow it; text where bad rows mix types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {}
    for name in frame.columns:
        values = [None if pd.isna(v) else v for v in frame[name]]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    pq.write_table(pa.table(columns), path)


def generate(out: Path, seed: int = 7) -> dict[str, int]:
    """Write the sample landing files under `out/{videos,metrics}`; returns counts."""
    rng = np.random.default_rng(seed)
    videos = _videos(rng)
    snaps = _snapshots(rng, videos)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "metrics").mkdir(parents=True, exist_ok=True)
    counts = {"videos": 0, "metrics": 0, "files": 0}
    weeks = range(0, DAYS + 7, 7)
    for i, start in enumerate(weeks):
        lo, hi = START + timedelta(days=start), START + timedelta(days=start + 7)
        fmt = "parquet" if i % 3 == 2 else "csv"
        v = videos[(videos.x_published >= lo) & (videos.x_published < hi)]
        s = snaps[(snaps.x_observed >= lo) & (snaps.x_observed < hi)]
        if i == 1:
            v = _inject(v, BAD_VIDEOS, rng)
        if i == 2:
            s = _inject(s, BAD_METRICS, rng)
        for kind, frame in (("videos", v), ("metrics", s)):
            if frame.empty:
                continue
            frame = frame[[c for c in frame.columns if not c.startswith("x_")]]
            path = out / kind / f"{lo:%Y-%m-%d}_{kind}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                _write_parquet(frame, path)
            counts[kind] += len(frame)
            counts["files"] += 1
    # a correction: a later file restates two videos with fixed topics (supersedes)
    fix = videos.iloc[[3, 10]][[c for c in videos.columns if not c.startswith("x_")]].copy()
    fix["topic"] = fix["topic"] + " (corrected)"
    fix.to_csv(out / "videos" / "2024-03-20_corrections.csv", index=False)
    # files that cannot be read: a metrics export missing a required column, and a stray JSON dump
    snaps.head(5).drop(columns=["views", "x_observed"]).to_csv(out / "metrics" / "2024-03-20_missing_views.csv", index=False)
    (out / "metrics" / "2024-03-21_export.json").write_text(json.dumps({"note": "not a landing file"}))
    counts["files"] += 3
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("data/sample"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(generate(args.out, args.seed))


if __name__ == "__main__":
    main()
