-- One row per app event id (msg:<message id> when the app sent none), so one row per message too.
SELECT *
FROM `${project}.${dataset}.app_events`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY publish_time, message_id) = 1
