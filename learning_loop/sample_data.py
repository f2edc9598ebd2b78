"""Deterministic sample landing files: a few projects over 70 days, with bad rows of each kind.

`python -m learning_loop.sample_data data/sample` regenerates `data/sample/`.
Recipes carry hidden effects, so the demo's top recipes are not noise.

The active-learning feeds (`labels`, `judgments`, `decisions`, SPEC §9) cover
the last 30 days of the same period for three agents (`AGENTS`). Each agent's
label follows a known logistic function of its features (`f_<name>`), so a
trained bundle beats always predicting the majority label; feedback labels
are noisier than approvals, gold labels are exact. They come from their own
random generator, so the video and metric files do not change with them.
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
    """Write the sample landing files under `out/{videos,metrics,labels,judgments,decisions}`; returns counts."""
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
    feeds = generate_feeds(out, seed)
    counts["files"] += feeds.pop("files")
    counts.update(feeds)
    return counts


# --------------------------------------------------------------------------- active-learning feeds (SPEC §9)

FEED_DAYS = 30  # labels and judgments cover the last 30 days of the period
DECISION_DAYS = 14  # decisions the last 14
FEED_START = START + timedelta(days=DAYS - FEED_DAYS)
DECISION_START = START + timedelta(days=DAYS - DECISION_DAYS)
SOURCE_SHARES = {"gold": 0.2, "approvals": 0.4, "feedback": 0.4}
#: Chance that a label of each source is the wrong one (gold is exact).
SOURCE_NOISE = {"gold": 0.0, "approvals": 0.05, "feedback": 0.12}
#: Judges and the spread of their scores around the truth: gpt-3.5-turbo is the noisy one.
JUDGE_NOISE = {"gpt-4": 0.6, "gpt-3.5-turbo": 3.0, "claude-3-opus": 0.8}
DECISIONS_PER_DAY = 24


def _inbox_triage(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Label 1 = the email is suspicious and should be held back."""
    f = pd.DataFrame(
        {
            "f_risk_score": np.round(rng.uniform(5, 100, n), 1),
            "f_spf_dkim": rng.binomial(1, 0.7, n).astype(float),
            "f_sender_reputation": np.round(rng.beta(2, 2, n), 3),
            "f_link_count": rng.poisson(3, n).astype(float),
        }
    )
    logit = (0.18 * (f.f_risk_score - 60) - 2.5 * f.f_spf_dkim + 5.0 * (0.5 - f.f_sender_reputation)
             + 0.4 * (f.f_link_count - 3) + 1.5)
    return f, logit.to_numpy()


def _post_gate(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Label 1 = the post may be published."""
    f = pd.DataFrame(
        {
            "f_toxicity": np.round(rng.beta(1.5, 6, n), 3),
            "f_brand_safety": np.round(rng.uniform(0, 1, n), 3),
            "f_length_chars": rng.integers(40, 2000, n).astype(float),
            "f_has_link": rng.binomial(1, 0.4, n).astype(float),
        }
    )
    logit = (-20 * (f.f_toxicity - 0.2) + 6 * (f.f_brand_safety - 0.5) - 0.002 * (f.f_length_chars - 800)
             - 1.0 * f.f_has_link + 0.8)
    return f, logit.to_numpy()


def _insights_writer(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Label 1 = the written insight was accepted."""
    f = pd.DataFrame(
        {
            "f_data_points": rng.integers(1, 40, n).astype(float),
            "f_novelty": np.round(rng.uniform(0, 1, n), 3),
            "f_readability": np.round(rng.uniform(20, 90, n), 1),
        }
    )
    logit = 0.2 * (f.f_data_points - 20) + 6 * (f.f_novelty - 0.5) + 0.1 * (f.f_readability - 55)
    return f, logit.to_numpy()


#: agent -> (feature generator, number of examples). insights_writer has fewer than the
#: runbook's 100, so the `examples_per_agent` check has something to warn about.
AGENTS = {
    "inbox_triage": (_inbox_triage, 220),
    "post_gate": (_post_gate, 140),
    "insights_writer": (_insights_writer, 95),
}
_INBOX_TEXT = ("Invoice {n} overdue — click to pay", "Team lunch on Friday?", "Your password expires today",
               "Quarterly report draft attached", "You won a prize! Claim now", "Re: contract review notes")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _confidence(rng: np.random.Generator, source: str) -> float:
    if source == "gold":
        return 100.0
    return round(float(rng.uniform(55, 100) if source == "approvals" else rng.uniform(30, 90)), 1)


def _labeler(rng: np.random.Generator, source: str) -> str:
    return {"gold": "qa-team", "approvals": f"reviewer-{int(rng.integers(1, 4))}", "feedback": "end-user"}[source]


def _labels(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(label rows, the examples with their true probability) of every agent."""
    rows, examples = [], []
    for agent, (make, n) in AGENTS.items():
        features, logit = make(rng, n)
        features = features.mask(rng.random(features.shape) < 0.03)  # a few missing feature values
        truth = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        # labels arrive faster towards the end of the period (more users giving feedback)
        offsets = np.sort(FEED_DAYS * np.sqrt(rng.uniform(0, 1, n)))
        for i in range(n):
            example_id = f"{agent.split('_')[0]}-{i + 1:04d}"
            first = FEED_START + timedelta(days=float(offsets[i]))
            sources = [str(rng.choice(list(SOURCE_SHARES), p=list(SOURCE_SHARES.values())))]
            if rng.random() < 0.18:  # some examples are labeled again by another source
                sources.append(str(rng.choice([s for s in SOURCE_SHARES if s != sources[0]])))
            examples.append({"agent": agent, "example_id": example_id, "truth": truth[i], "logit": logit[i],
                             "first": first, "gold": "gold" in sources})
            for k, source in enumerate(sources):
                label = truth[i] if rng.random() >= SOURCE_NOISE[source] else 1 - truth[i]
                later = timedelta(hours=30 * k * float(rng.uniform(0.5, 2)))  # a second source labels later
                labeled_at = min(first + later, FEED_START + timedelta(days=FEED_DAYS, seconds=-1))
                row = {
                    "agent": agent,
                    "example_id": example_id,
                    "source": source,
                    "label": int(label),
                    "labeled_at": _stamp(labeled_at),
                    "confidence": _confidence(rng, source),
                    "labeler": _labeler(rng, source),
                    "input_text": None,
                    "expected_output": None,
                    **features.iloc[i].to_dict(),
                    "x_at": labeled_at,
                }
                if agent == "inbox_triage" and source == "approvals" and rng.random() < 0.35:
                    row["input_text"] = str(rng.choice(_INBOX_TEXT)).format(n=i)
                    row["expected_output"] = "hold" if label else "deliver"
                rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(examples)


def _judgments(rng: np.random.Generator, examples: pd.DataFrame) -> pd.DataFrame:
    """Scores of three judges on every gold example and on a quarter of the others."""
    rows = []
    for ex in examples.itertuples(index=False):
        if not ex.gold and rng.random() >= 0.25:
            continue
        for judge, noise in JUDGE_NOISE.items():
            signal = 2.5 * (2 * ex.truth - 1) + 0.3 * ex.logit + rng.normal(0, noise)
            rows.append(
                {
                    "agent": ex.agent,
                    "example_id": ex.example_id,
                    "judge": judge,
                    "score": round(float(1 / (1 + np.exp(-signal))), 4),
                    "judged_at": _stamp(ex.first + timedelta(minutes=float(rng.uniform(1, 90)))),
                    "x_at": ex.first,
                }
            )
    return pd.DataFrame(rows)


#: The deployment history the demo replays (`learning-loop demo`), so the decisions name real bundles: the
#: nightly training of 2024-03-01 04:00 UTC gives every agent its first bundle (applied at 100 %), the one
#: of 2024-03-05 04:00 gives inbox_triage a new bundle the demo applies as a 10 % canary at 05:00.
#: Before the first bundle, decisions ran under each agent's pre-platform configuration `<agent>_legacy`.
FIRST_BUNDLE_AT = datetime(2024, 3, 1, 4)
CANARY_AGENT, CANARY_BUNDLE_AT, CANARY_APPLIED_AT, CANARY_PERCENT = "inbox_triage", datetime(2024, 3, 5, 4), \
    datetime(2024, 3, 5, 5), 10
#: inbox_triage decides more, so its canary reaches the guard's minimum sample within the sample period
DECISIONS_PER_DAY_BY_AGENT = {CANARY_AGENT: 240}


def decision_bundle(agent: str, at: datetime, route_key: str) -> str:
    """The bundle that served a decision in the demo's deployment history (routing rule of the contract)."""
    from learning_loop.domain.canaries.routing import route_arm
    from learning_loop.domain.active_learning.training import bundle_id_for

    if at < FIRST_BUNDLE_AT:
        return f"{agent}_legacy"
    if agent == CANARY_AGENT and at >= CANARY_APPLIED_AT and route_arm(agent, route_key, CANARY_PERCENT) == "canary":
        return bundle_id_for(agent, CANARY_BUNDLE_AT)
    return bundle_id_for(agent, FIRST_BUNDLE_AT)


def _decisions(rng: np.random.Generator) -> pd.DataFrame:
    """Every agent's decisions under the bundle serving it then (`decision_bundle`): quality ~0.8, latency ~800 ms."""
    rows = []
    for agent in AGENTS:
        n = 0
        for day in range(DECISION_DAYS):
            for _ in range(int(rng.poisson(DECISIONS_PER_DAY_BY_AGENT.get(agent, DECISIONS_PER_DAY)))):
                n += 1
                at = DECISION_START + timedelta(days=day, seconds=float(rng.uniform(0, 86400)))
                key = f"req-{int(rng.integers(0, 10**8)):08d}"
                rows.append(
                    {
                        "agent": agent,
                        "decision_id": f"{agent.split('_')[0]}-d{n:05d}",
                        "bundle_id": decision_bundle(agent, at, key),
                        "decided_at": _stamp(at),
                        "quality": round(float(np.clip(rng.normal(0.8, 0.08), 0, 1)), 3),
                        "latency_ms": round(float(rng.lognormal(np.log(800), 0.25)), 1),
                        "route_key": key,
                        "x_at": at,
                    }
                )
    frame = pd.DataFrame(rows).sort_values("x_at", kind="mergesort").reset_index(drop=True)
    return frame


BAD_LABELS = [
    ({"f_risk_score": "high"}, "unparsable number in f_risk_score"),
    ({"label": 2}, "label is not 0 or 1"),
    ({"agent": "Inbox-Triage"}, "invalid agent name"),
    ({"source": "survey"}, "unknown source"),
    ({"confidence": 150}, "confidence outside [0, 100]"),
    ({"labeled_at": None}, "required value missing: labeled_at"),
]
BAD_JUDGMENTS = [
    ({"score": 1.5}, "score outside [0, 1]"),
    ({"agent": "post gate"}, "invalid agent name"),
    ({"judge": None}, "required value missing: judge"),
]
BAD_DECISIONS = [
    ({"latency_ms": -12.0}, "negative latency_ms"),
    ({"quality": 1.3}, "quality outside [0, 1]"),
    ({"agent": "9lives"}, "invalid agent name"),
    ({"decided_at": "yesterday"}, "unparsable timestamp in decided_at"),
]


def _inject_feed(frame: pd.DataFrame, bad: list[tuple[dict, str]], id_column: str, rng: np.random.Generator) -> pd.DataFrame:
    """Append a broken copy of a random row per rule (with its own id, so nothing valid is superseded)."""
    extra = []
    for k, (changes, _) in enumerate(bad, start=1):
        row = frame.iloc[int(rng.integers(0, len(frame)))].to_dict()
        row[id_column] = f"{row[id_column]}-bad{k}"
        row.update(changes)
        extra.append(row)
    return pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)


def _write_feed(frame: pd.DataFrame, path: Path) -> None:
    frame = frame[[c for c in frame.columns if not c.startswith("x_")]]
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        _write_parquet(frame, path)


def generate_feeds(out: Path, seed: int = 7) -> dict[str, int]:
    """Write `out/{labels,judgments,decisions}/` (weekly files, one week as Parquet, bad rows in the
    second week, a labels correction file and a labels file missing a required column)."""
    rng = np.random.default_rng([seed, 3])  # own stream: the video and metric files stay as they are
    labels, examples = _labels(rng)
    frames = {"labels": labels, "judgments": _judgments(rng, examples), "decisions": _decisions(rng)}
    ids = {"labels": "example_id", "judgments": "example_id", "decisions": "decision_id"}
    bad = {"labels": BAD_LABELS, "judgments": BAD_JUDGMENTS, "decisions": BAD_DECISIONS}
    counts = {kind: 0 for kind in frames} | {"files": 0}
    for kind, frame in frames.items():
        (out / kind).mkdir(parents=True, exist_ok=True)
        first = FEED_START if kind != "decisions" else DECISION_START
        for week, lo in enumerate(pd.date_range(first, START + timedelta(days=DAYS - 1), freq="7D")):
            hi = lo + timedelta(days=7)
            part = frame[(frame.x_at >= lo) & (frame.x_at < hi)]
            if part.empty:
                continue
            if week == 1:
                part = _inject_feed(part, bad[kind], ids[kind], rng)
            suffix = "parquet" if week == 2 else "csv"
            _write_feed(part, out / kind / f"{lo:%Y-%m-%d}_{kind}.{suffix}")
            counts[kind] += len(part)
            counts["files"] += 1
    # a correction: two feedback labels of inbox_triage restated (same key, later file: supersedes)
    fix = labels[(labels.agent == "inbox_triage") & (labels.source == "feedback")].head(2).copy()
    fix["label"] = 1 - fix["label"]
    fix["confidence"] = 95.0
    fix["labeler"] = "reviewer-1 (correction)"
    _write_feed(fix, out / "labels" / f"{START + timedelta(days=DAYS):%Y-%m-%d}_corrections.csv")
    # a file that cannot load: an export without the `source` column
    no_source = out / "labels" / f"{START + timedelta(days=DAYS):%Y-%m-%d}_no_source.csv"
    _write_feed(labels.head(3).drop(columns=["source"]), no_source)
    counts["labels"] += len(fix) + 3
    counts["files"] += 2
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("data/sample"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(generate(args.out, args.seed))


if __name__ == "__main__":
    main()
