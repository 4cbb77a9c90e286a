-- Looker Studio: dead letters per day by stage, kind and reason, with their count, bytes and
-- the last one's time. The reason's leading field name (before the first colon, "data",
-- "query"...) is reason_field, a short dimension for a pie or bar chart.
SELECT
  DATE(dead_lettered_at) AS day,
  stage,
  kind,
  REGEXP_EXTRACT(reason, r'^([^:]+):') AS reason_field,
  reason,
  COUNT(*) AS dead_letters,
  SUM(IFNULL(data_bytes, 0)) AS bytes,
  MAX(dead_lettered_at) AS last_at
FROM `${project}.${dataset}.dead_letters`
GROUP BY 1, 2, 3, 4, 5
