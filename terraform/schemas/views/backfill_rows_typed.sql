-- Backfill rows as typed columns, over the deduplicated rows: one row per video, day and metric
-- of a youtube_analytics backfill (each metric column of the API row, as FLOAT64), and one row
-- per record of an http_json or ga4 backfill (metric and value NULL; its fields stay in record,
-- read them with JSON_VALUE: a ga4 spec names its own metrics, so there is no list to unpivot).
-- The list is every metric a spec may ask for (shared/backfill's
-- vocabulary; a test keeps the two equal); a row only has the ones its spec asked for.
SELECT job_id, shard, row_index, source, fetched_at, video_id, day, metric,
  SAFE_CAST(JSON_VALUE(record, CONCAT('$.', metric)) AS FLOAT64) AS value, record
FROM `${project}.${dataset}.backfill_rows_dedup`
CROSS JOIN UNNEST([
  'views', 'engagedViews', 'redViews', 'estimatedMinutesWatched', 'estimatedRedMinutesWatched',
  'averageViewDuration', 'averageViewPercentage', 'viewerPercentage', 'comments', 'likes',
  'dislikes', 'shares', 'subscribersGained', 'subscribersLost', 'videosAddedToPlaylists',
  'videosRemovedFromPlaylists', 'annotationClickThroughRate', 'annotationCloseRate',
  'annotationImpressions', 'annotationClickableImpressions', 'annotationClosableImpressions',
  'annotationClicks', 'annotationCloses', 'cardClickRate', 'cardTeaserClickRate',
  'cardImpressions', 'cardTeaserImpressions', 'cardClicks', 'cardTeaserClicks',
  'audienceWatchRatio', 'relativeRetentionPerformance', 'playlistViews', 'playlistStarts',
  'playlistSaves', 'playlistEstimatedMinutesWatched', 'playlistAverageViewDuration',
  'averageTimeInPlaylist', 'viewsPerPlaylistStart', 'estimatedRevenue', 'estimatedAdRevenue',
  'grossRevenue', 'estimatedRedPartnerRevenue', 'monetizedPlaybacks', 'playbackBasedCpm',
  'adImpressions', 'cpm'
]) AS metric
WHERE source = 'youtube_analytics' AND JSON_VALUE(record, CONCAT('$.', metric)) IS NOT NULL
UNION ALL
SELECT job_id, shard, row_index, source, fetched_at, video_id, day, CAST(NULL AS STRING) AS metric,
  CAST(NULL AS FLOAT64) AS value, record
FROM `${project}.${dataset}.backfill_rows_dedup`
WHERE source IN ('http_json', 'ga4')
