-- Dead letters not yet redriven: those whose message id has no row in redrives. A redrive
-- appends to redrives instead of updating dead_letters, which stays as the loader wrote it.
SELECT d.*
FROM `${project}.${dataset}.dead_letters` AS d
WHERE NOT EXISTS (
  SELECT 1 FROM `${project}.${dataset}.redrives` AS r WHERE r.message_id = d.message_id
)
