{{ config(partitioned='daily', description='Per project and recipe as of T: all-time use and rewards over the window (contract §5).') }}
-- Parameters: :partition_date, :as_of (T), :window_days.
WITH used AS (
    SELECT project_id, recipe_hash,
           min(preset) AS preset,
           min(hook_type) AS hook_type,
           min(scene_count) AS scene_count,
           min(narration_wpm_bucket) AS narration_wpm_bucket,
           min(caption_density_bucket) AS caption_density_bucket,
           min(ending_type) AS ending_type,
           count(*) AS times_used,
           max(published_at) AS last_used_at
    FROM {{ ref('videos') }}
    WHERE recipe_hash IS NOT NULL AND published_at < :as_of
    GROUP BY project_id, recipe_hash
),
scored AS (
    SELECT project_id, recipe_hash,
           count(*) AS scored_videos,
           avg(reward) AS avg_reward,
           max(reward) AS best_reward
    FROM {{ ref('percentile_rewards') }}
    WHERE partition_date = :partition_date AND recipe_hash IS NOT NULL
    GROUP BY project_id, recipe_hash
)
SELECT
    CAST(:partition_date AS DATE) AS partition_date,
    u.project_id,
    u.recipe_hash,
    u.preset,
    u.hook_type,
    u.scene_count,
    u.narration_wpm_bucket,
    u.caption_density_bucket,
    u.ending_type,
    u.times_used,
    COALESCE(s.scored_videos, 0) AS scored_videos,
    s.avg_reward,
    s.best_reward,
    u.last_used_at,
    :window_days AS window_days
FROM used u
LEFT JOIN scored s ON s.project_id = u.project_id AND s.recipe_hash = u.recipe_hash
