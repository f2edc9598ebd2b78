{{ config(partitioned='daily', description='Mid-rank percentile rewards per project over the trailing window of mature videos (SPEC §4).') }}
-- Parameters: :partition_date, :as_of (T), :window_start (T - window), :window_days,
-- :weight_avd, :weight_views_6h, :weight_engagement.
-- pct_m(v) = (#{u: m(u) < m(v)} + 0.5 #{u: m(u) = m(v)}) / |R| = (rank - 1 + 0.5 ties) / n
WITH reference AS (
    SELECT project_id, video_id, published_at, recipe_hash,
           avg_view_duration_s, views_6h, engagement_rate
    FROM {{ ref('outcomes') }}
    WHERE partition_date = :partition_date
      AND is_mature
      AND published_at >= :window_start
      AND published_at < :as_of
),
ranked AS (
    SELECT r.*,
           count(*) OVER (PARTITION BY project_id) AS n,
           rank() OVER (PARTITION BY project_id ORDER BY avg_view_duration_s) AS avd_rank,
           count(*) OVER (PARTITION BY project_id, avg_view_duration_s) AS avd_ties,
           rank() OVER (PARTITION BY project_id ORDER BY views_6h) AS views_rank,
           count(*) OVER (PARTITION BY project_id, views_6h) AS views_ties,
           rank() OVER (PARTITION BY project_id ORDER BY engagement_rate) AS eng_rank,
           count(*) OVER (PARTITION BY project_id, engagement_rate) AS eng_ties
    FROM reference r
),
pct AS (
    SELECT ranked.*,
           (avd_rank - 1 + 0.5 * avd_ties) / CAST(n AS DOUBLE PRECISION) AS avd_pct,
           (views_rank - 1 + 0.5 * views_ties) / CAST(n AS DOUBLE PRECISION) AS views_6h_pct,
           (eng_rank - 1 + 0.5 * eng_ties) / CAST(n AS DOUBLE PRECISION) AS engagement_pct
    FROM ranked
)
SELECT
    CAST(:partition_date AS DATE) AS partition_date,
    project_id,
    video_id,
    published_at,
    recipe_hash,
    avg_view_duration_s,
    views_6h,
    engagement_rate,
    avd_pct,
    views_6h_pct,
    engagement_pct,
    :weight_avd * avd_pct + :weight_views_6h * views_6h_pct + :weight_engagement * engagement_pct AS reward,
    n AS reference_size,
    :weight_avd AS weight_avd,
    :weight_views_6h AS weight_views_6h,
    :weight_engagement AS weight_engagement,
    :window_days AS window_days
FROM pct
