{{ config(partitioned='none', description='Every recipe seen in history per project, with first and last use: the runbook backfill of recipes.') }}
-- Parameters: :registered_at.
SELECT
    project_id,
    recipe_hash,
    min(preset) AS preset,
    min(hook_type) AS hook_type,
    min(scene_count) AS scene_count,
    min(narration_wpm_bucket) AS narration_wpm_bucket,
    min(caption_density_bucket) AS caption_density_bucket,
    min(ending_type) AS ending_type,
    count(*) AS times_used,
    min(published_at) AS first_used_at,
    max(published_at) AS last_used_at,
    CAST(:registered_at AS TIMESTAMP) AS registered_at
FROM {{ ref('videos') }}
WHERE recipe_hash IS NOT NULL
GROUP BY project_id, recipe_hash
