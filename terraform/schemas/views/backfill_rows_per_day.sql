-- Looker Studio: backfilled rows per day and metric. A metric is each numeric field of a row's
-- record ("views", "likes"... for YouTube Analytics); day is the row's own day, or the day it
-- was fetched when the source has none. One row per day, job, source and metric, with the
-- number of rows carrying it and their sum, from the deduplicated rows.
SELECT
  IFNULL(r.day, DATE(r.fetched_at)) AS day,
  r.job_id,
  r.source,
  REGEXP_EXTRACT(pair, r'^"([^"]+)"') AS metric,
  COUNT(*) AS rows_count,
  SUM(CAST(REGEXP_EXTRACT(pair, r':(-?[0-9][0-9.eE+-]*)$') AS FLOAT64)) AS total
FROM `${project}.${dataset}.backfill_rows_dedup` AS r
CROSS JOIN UNNEST(REGEXP_EXTRACT_ALL(r.record, r'"[A-Za-z_][A-Za-z0-9_]*":-?[0-9][0-9.eE+-]*')) AS pair
GROUP BY 1, 2, 3, 4
