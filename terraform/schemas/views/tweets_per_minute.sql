-- Looker Studio: tweets per minute by kind (tweet, retweet, reply, quote), one row per minute
-- and kind, from the deduplicated tweets (a redelivered or replayed tweet counts once). Chart it
-- as a time series: dimension minute, breakdown kind, metric tweets.
SELECT
  TIMESTAMP_TRUNC(event_time, MINUTE) AS minute,
  kind,
  COUNT(*) AS tweets
FROM `${project}.${dataset}.tweets_dedup`
GROUP BY 1, 2
