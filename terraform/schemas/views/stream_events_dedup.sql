-- One row per Pub/Sub message.
SELECT *
FROM `${project}.${dataset}.stream_events`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ingested_at) = 1
