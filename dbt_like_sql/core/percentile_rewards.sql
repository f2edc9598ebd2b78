{{ config(partitioned='daily', description='Mid-rank percentile rewards per project over the trailing window of mature videos (contract §5).') }}
-- Parameters: :partition_date, :as_of (T), :window_start (T - window), :window_days,
-- :weight_avd, :weight_views_6h, :weight_engagement.
-- pct_m(v) = (#{u: m(u) < m(v)} + 0.5 #{u: m(u) = m(v)}) / |R|
WITH reference AS (
    SELECT project_id, video_id, published_at, recipe_hash,
           avg_view_duration_s, views_6h, engagement_rate
    FROM {{ ref('outcomes') }}
    WHERE partition_date = :partition_date
      AND is_mature
      AND published_at >= :window_start
      AND published_at < :as_of
),
pct AS (
    -- (rank - 1) / n counts the strictly smaller values, cume_dist() the smaller or equal ones:
    -- their mean is the mid-rank percentile, with one window sort per metric
    SELECT r.*,
           count(*) OVER (PARTITION BY project_id) AS n,
           0.5 * (CAST(rank() OVER (PARTITION BY project_id ORDER BY avg_view_duration_s) - 1 AS DOUBLE PRECISION)
                  / count(*) OVER (PARTITION BY project_id)
                  + cume_dist() OVER (PARTITION BY project_id ORDER BY avg_view_duration_s)) AS avd_pct,
           0.5 * (CAST(rank() OVER (PARTITION BY project_id ORDER BY views_6h) - 1 AS DOUBLE PRECISION)
                  / count(*) OVER (PARTITION BY project_id)
                  + cume_dist() OVER (PARTITION BY project_id ORDER BY views_6h)) AS views_6h_pct,
           0.5 * (CAST(rank() OVER (PARTITION BY project_id ORDER BY engagement_rate) - 1 AS DOUBLE PRECISION)
                  / count(*) OVER (PARTITION BY project_id)
                  + cume_dist() OVER (PARTITION BY project_id ORDER BY engagement_rate)) AS engagement_pct
    FROM reference r
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
