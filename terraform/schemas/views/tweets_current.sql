-- Tweets as they stand now: one row per tweet id, without the tweets whose author deleted them
-- (X's delete notices, which the developer agreement requires us to honour).
SELECT t.*
FROM `${project}.${dataset}.tweets_dedup` AS t
WHERE NOT EXISTS (
  SELECT 1
  FROM `${project}.${dataset}.stream_events` AS d
  WHERE d.kind = 'delete' AND d.tweet_id = t.tweet_id
)
