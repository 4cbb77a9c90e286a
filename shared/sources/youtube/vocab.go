package youtube

import "sort"

// The YouTube Analytics API (reports.query) vocabulary, from the API's "Metrics" and
// "Dimensions" reference pages (developers.google.com/youtube/analytics/metrics and
// /dimensions): the core ones and the common non-core ones. A name not listed here is refused
// at POST time rather than after 100,000 tasks have each failed with 400 badRequest; add a
// name here when the API gains one.

// youTubeMetrics lists the metrics a spec may ask for.
var youTubeMetrics = setOf(
	// views and watch time
	"views", "engagedViews", "redViews", "estimatedMinutesWatched", "estimatedRedMinutesWatched",
	"averageViewDuration", "averageViewPercentage", "viewerPercentage",
	// engagement
	"comments", "likes", "dislikes", "shares", "subscribersGained", "subscribersLost",
	"videosAddedToPlaylists", "videosRemovedFromPlaylists",
	// annotations and cards
	"annotationClickThroughRate", "annotationCloseRate", "annotationImpressions",
	"annotationClickableImpressions", "annotationClosableImpressions", "annotationClicks",
	"annotationCloses", "cardClickRate", "cardTeaserClickRate", "cardImpressions",
	"cardTeaserImpressions", "cardClicks", "cardTeaserClicks",
	// audience retention
	"audienceWatchRatio", "relativeRetentionPerformance",
	// playlists
	"playlistViews", "playlistStarts", "playlistSaves", "playlistEstimatedMinutesWatched",
	"playlistAverageViewDuration", "averageTimeInPlaylist", "viewsPerPlaylistStart",
	// revenue and ads (owner-authorized channels; currency applies)
	"estimatedRevenue", "estimatedAdRevenue", "grossRevenue", "estimatedRedPartnerRevenue",
	"monetizedPlaybacks", "playbackBasedCpm", "adImpressions", "cpm",
)

// youTubeDimensions maps each dimension a spec may ask for to an estimate of how many rows
// one day of one video (or channel) yields for it: the planner multiplies these to size a
// query's response (see rowsPerDay).
var youTubeDimensions = map[string]int{
	"day": 1, "month": 1,
	"video": 1, "playlist": 50, "channel": 1,
	"country": 250, "province": 60, "city": 1000, "continent": 6, "subContinent": 25,
	"insightTrafficSourceType": 25, "insightTrafficSourceDetail": 100,
	"insightPlaybackLocationType": 10, "insightPlaybackLocationDetail": 100,
	"deviceType": 8, "operatingSystem": 25, "ageGroup": 7, "gender": 3,
	"sharingService": 60, "subscribedStatus": 2, "youtubeProduct": 5, "liveOrOnDemand": 2,
	"creatorContentType": 5, "audienceType": 3, "elapsedVideoTimeRatio": 100,
	"adType": 10, "isCurated": 2, "playlistType": 3,
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Metrics returns the metrics a spec may ask for, sorted; the backfill_rows_typed view
// unpivots exactly these (a test keeps the two equal).
func Metrics() []string {
	out := make([]string, 0, len(youTubeMetrics))
	for m := range youTubeMetrics {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
