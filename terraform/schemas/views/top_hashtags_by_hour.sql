-- Looker Studio: hashtags by hour, one row per hour and hashtag, with the hashtag's rank in
-- that hour. The ranking's definition: distinct tweets of any kind using the tag, tags
-- case-folded, tweets deleted by their author left out. Filter rank_in_hour <= 10 for a top 10.
SELECT
  TIMESTAMP_TRUNC(t.event_time, HOUR) AS hour,
  LOWER(tag) AS hashtag,
  COUNT(DISTINCT t.tweet_id) AS tweets,
  RANK() OVER (
    PARTITION BY TIMESTAMP_TRUNC(t.event_time, HOUR)
    ORDER BY COUNT(DISTINCT t.tweet_id) DESC
  ) AS rank_in_hour
FROM `${project}.${dataset}.tweets_dedup` AS t
CROSS JOIN UNNEST(t.hashtags) AS tag
WHERE NOT EXISTS (
  SELECT 1
  FROM `${project}.${dataset}.stream_events` AS d
  WHERE d.kind = 'delete' AND d.tweet_id = t.tweet_id
)
GROUP BY 1, 2
