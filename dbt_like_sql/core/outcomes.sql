{{ config(partitioned='daily', description='Per video as of T = partition date + 1 day: views at publish + 6h (interpolated), the latest counters, engagement and follow-through (contract §5).') }}
-- Parameters: :partition_date, :as_of (T). Only videos with published_at < T and
-- snapshots with observed_at < T (and not before publish) are visible.
WITH vids AS (
    SELECT project_id, video_id, published_at, recipe_hash, content_type,
           published_at + INTERVAL '6 hours' AS target_at
    FROM {{ ref('videos') }}
    WHERE published_at < :as_of
),
snaps AS (
    SELECT s.project_id, s.video_id, s.observed_at, s.views, s.likes, s.comments,
           s.avg_view_duration_s, s.followers_gained, v.target_at
    FROM {{ ref('metric_snapshots') }} s
    JOIN vids v ON v.project_id = s.project_id AND v.video_id = s.video_id
    WHERE s.observed_at < :as_of AND s.observed_at >= v.published_at
),
marks AS (
    SELECT project_id, video_id,
           count(*) AS snapshot_count,
           max(observed_at) AS latest_at,
           max(observed_at) FILTER (WHERE observed_at <= target_at) AS before_at,
           min(observed_at) FILTER (WHERE observed_at >= target_at) AS after_at
    FROM snaps
    GROUP BY project_id, video_id
)
SELECT
    CAST(:partition_date AS DATE) AS partition_date,
    v.project_id,
    v.video_id,
    v.published_at,
    v.recipe_hash,
    v.content_type,
    COALESCE(m.snapshot_count, 0) AS snapshot_count,
    m.latest_at AS last_observed_at,
    CASE
        WHEN m.after_at IS NULL THEN NULL
        WHEN m.after_at = v.target_at THEN CAST(a.views AS DOUBLE PRECISION)
        ELSE COALESCE(CAST(b.views AS DOUBLE PRECISION), 0.0)
             + (CAST(a.views AS DOUBLE PRECISION) - COALESCE(CAST(b.views AS DOUBLE PRECISION), 0.0))
             * CAST(EXTRACT(EPOCH FROM v.target_at) - EXTRACT(EPOCH FROM COALESCE(m.before_at, v.published_at)) AS DOUBLE PRECISION)
             / CAST(EXTRACT(EPOCH FROM m.after_at) - EXTRACT(EPOCH FROM COALESCE(m.before_at, v.published_at)) AS DOUBLE PRECISION)
    END AS views_6h,
    m.after_at IS NOT NULL AS is_mature,
    l.views,
    l.likes,
    l.comments,
    l.followers_gained,
    l.avg_view_duration_s,
    CASE
        WHEN l.views IS NULL THEN NULL
        WHEN l.views = 0 THEN 0.0
        ELSE CAST(l.likes + l.comments AS DOUBLE PRECISION) / CAST(l.views AS DOUBLE PRECISION)
    END AS engagement_rate,
    CASE WHEN l.followers_gained IS NULL THEN NULL ELSE l.followers_gained > 0 END AS follow_through
FROM vids v
LEFT JOIN marks m ON m.project_id = v.project_id AND m.video_id = v.video_id
LEFT JOIN snaps l ON l.project_id = m.project_id AND l.video_id = m.video_id AND l.observed_at = m.latest_at
LEFT JOIN snaps b ON b.project_id = m.project_id AND b.video_id = m.video_id AND b.observed_at = m.before_at
LEFT JOIN snaps a ON a.project_id = m.project_id AND a.video_id = m.video_id AND a.observed_at = m.after_at
