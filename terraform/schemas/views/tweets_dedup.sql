-- One row per tweet id: Pub/Sub delivers at least once and a tweet can arrive from the stream
-- and from a replay. The first row published wins.
SELECT *
FROM `${project}.${dataset}.tweets`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY tweet_id ORDER BY publish_time, message_id) = 1
