-- One row per (job_id, shard, row_index): Cloud Tasks delivers at least once, so a task can
-- append its rows twice. The latest fetch wins.
SELECT *
FROM `${project}.${dataset}.backfill_rows`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY job_id, shard, row_index ORDER BY fetched_at DESC) = 1
