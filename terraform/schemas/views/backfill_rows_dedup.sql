-- One row per (job_id, shard, row_index), all from the shard's latest complete fetch. Cloud Tasks
-- delivers at least once and a task's rows are appended as its pages arrive, so a shard can hold
-- several fetches, some cut short; a fetch is complete when its marker row (row_index = -1) was
-- appended after its last row. Rows of any other fetch are left out, so a later fetch that
-- returns fewer or reordered rows is never mixed with an earlier one.
WITH complete AS (
  SELECT job_id, shard, MAX(fetched_at) AS fetched_at
  FROM `${project}.${dataset}.backfill_rows`
  WHERE row_index = -1
  GROUP BY job_id, shard
)
SELECT r.*
FROM `${project}.${dataset}.backfill_rows` AS r
JOIN complete AS c ON r.job_id = c.job_id AND r.shard = c.shard AND r.fetched_at = c.fetched_at
WHERE r.row_index >= 0
QUALIFY ROW_NUMBER() OVER (PARTITION BY r.job_id, r.shard, r.row_index ORDER BY r.fetched_at DESC) = 1
