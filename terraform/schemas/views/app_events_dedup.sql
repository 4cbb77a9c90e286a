-- One row per app and event id (msg:<message id> when the app sent none), so one row per message
-- too. Two apps may use one id for different events: both are kept. Rows loaded before apps
-- existed have no app, which is the default app.
SELECT *
FROM `${project}.${dataset}.app_events`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY COALESCE(app, 'default'), event_id ORDER BY publish_time, message_id) = 1
