package rankings

import (
	"fmt"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// The truth: each ranking as GoogleSQL over the dedup views (tweets_current for tweets, which
// is tweets_dedup without deleted tweets; app_events_dedup for app events). The serving path
// never runs these (it serves the counters in Firestore); the tests, scripts/dev and the
// benchmarks run them through the local BigQuery to check that the counters equal them.

// sqlTS is a timestamp as a GoogleSQL literal.
func sqlTS(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TruthSQL returns the query computing ranking r over [from, to), top n, with columns key and
// count, in the ranking order.
func TruthSQL(project, dataset string, r Ranking, from, to time.Time, n int) (string, error) {
	table := func(name string) string { return fmt.Sprintf("`%s.%s.%s`", project, dataset, name) }
	window := fmt.Sprintf("t.publish_time >= %s AND t.publish_time < %s", sqlTS(from), sqlTS(to))
	// A tweet counts when tweetCountAt says: one of a source counting at creation (a backfill's)
	// at its event_time (its created_at) unless that is missing or after its publication, every
	// other at publication.
	var atCreation []string
	for _, s := range event.SourcesCountingAtCreation() {
		atCreation = append(atCreation, sqlString(s))
	}
	countAt := "IF(t.source IN (" + strings.Join(atCreation, ", ") + ") AND t.event_time IS NOT NULL AND t.event_time <= t.publish_time, t.event_time, t.publish_time)"
	tweetWindow := fmt.Sprintf("%s >= %s AND %s < %s", countAt, sqlTS(from), countAt, sqlTS(to))
	countable := countableSQL()
	var q string
	switch r {
	case Hashtags:
		q = `SELECT LOWER(h) AS key, COUNT(DISTINCT t.tweet_id) AS count
FROM ` + table("tweets_current") + ` AS t, UNNEST(t.hashtags) AS h
WHERE ` + tweetWindow + ` AND LOWER(h) != ''
  AND ` + countable + `
GROUP BY key`
	case Retweets:
		q = `SELECT t.referenced_tweet_id AS key, COUNT(DISTINCT t.tweet_id) AS count
FROM ` + table("tweets_current") + ` AS t
WHERE ` + tweetWindow + ` AND t.kind = 'retweet' AND t.referenced_tweet_id IS NOT NULL AND t.referenced_tweet_id != ''
  AND ` + countable + `
  AND NOT EXISTS (SELECT 1 FROM ` + table("stream_events") + ` AS d WHERE d.kind = 'delete' AND d.tweet_id = t.referenced_tweet_id)
GROUP BY key`
	case SearchTerms:
		q = `SELECT key, COUNT(*) AS count FROM (
  SELECT TRIM(REGEXP_REPLACE(LOWER(t.query), r'\s+', ' '), ' ') AS key
  FROM ` + table("app_events_dedup") + ` AS t
  WHERE ` + window + ` AND t.kind = 'search' AND t.query IS NOT NULL
) AS s
WHERE key != ''
GROUP BY key`
	case Popularity:
		q = `SELECT t.item_id AS key, COUNT(*) AS count
FROM ` + table("app_events_dedup") + ` AS t
WHERE ` + window + ` AND t.kind = 'detail_view' AND t.item_id IS NOT NULL AND t.item_id != ''
GROUP BY key`
	default:
		return "", fmt.Errorf("unknown ranking %q", r)
	}
	return q + fmt.Sprintf("\nORDER BY count DESC, key\nLIMIT %d", n), nil
}

// OriginalSQL returns, for the retweets ranking, the text and author of each original in ids:
// the original's own row when the pipeline saw it, else the retweet of it with the lowest id
// (its text holds "RT @handle: text", which QuotedOriginal splits). Columns: key, own (BOOL),
// text, author_handle, author_id.
func OriginalSQL(project, dataset string, ids []string) string {
	in := sqlInList(ids)
	tc := fmt.Sprintf("`%s.%s.tweets_current`", project, dataset)
	return `SELECT tweet_id AS key, TRUE AS own, text, author_handle, author_id FROM ` + tc + ` WHERE tweet_id IN ` + in + `
UNION ALL
SELECT key, FALSE AS own, text, author_handle, author_id FROM (
  SELECT referenced_tweet_id AS key, text, author_handle, author_id,
    ROW_NUMBER() OVER (PARTITION BY referenced_tweet_id ORDER BY LENGTH(tweet_id), tweet_id) AS rn
  FROM ` + tc + ` WHERE kind = 'retweet' AND referenced_tweet_id IN ` + in + `
) AS r WHERE rn = 1`
}

// RecentViewsSQL returns the query of a user's recent views: columns item_id and viewed_at
// (the latest view's event time), in the recent views' order.
func RecentViewsSQL(project, dataset, user string) string {
	return fmt.Sprintf(`SELECT item_id, MAX(event_time) AS viewed_at
FROM `+"`%s.%s.app_events_dedup`"+`
WHERE kind = 'detail_view' AND user_id = %s AND item_id IS NOT NULL AND item_id != ''
GROUP BY item_id
ORDER BY viewed_at DESC, item_id
LIMIT %d`, project, dataset, sqlString(user), RecentViews)
}

// countableSQL is the clause of the tweets (alias t) the store counts anywhere. A tweet the
// store refuses counts nowhere (Store.check): one with a key over maxKeyBytes, or more than
// maxCountsPerEvent keys (its distinct folded hashtags and the retweeted id). App events need
// no such clause: CollectEvents and the loader refuse app events whose keys are over their
// (smaller) bounds, so none is in app_events.
func countableSQL() string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM UNNEST(t.hashtags) AS b WHERE BYTE_LENGTH(LOWER(b)) > %[1]d)
  AND BYTE_LENGTH(IFNULL(t.referenced_tweet_id, '')) <= %[1]d
  AND (SELECT COUNT(DISTINCT LOWER(c)) FROM UNNEST(t.hashtags) AS c WHERE LOWER(c) != '')
    + IF(t.kind = 'retweet' AND IFNULL(t.referenced_tweet_id, '') != '', 1, 0) <= %[2]d`, maxKeyBytes, maxCountsPerEvent)
}

// CardCountsSQL returns the card counts (cards.go) of the tweets ids: for each that any tweet
// references, columns tweet_id, retweets, replies and quotes, counting each retweet, reply or
// quote of it in tweets_current (one row per tweet id, the earliest published; deleted tweets
// left out) that the store counts (countableSQL). A tweet without a row has zero of each.
func CardCountsSQL(project, dataset string, ids []string) string {
	in := sqlInList(ids)
	return `SELECT t.referenced_tweet_id AS tweet_id,
  COUNT(DISTINCT IF(t.kind = 'retweet', t.tweet_id, NULL)) AS retweets,
  COUNT(DISTINCT IF(t.kind = 'reply', t.tweet_id, NULL)) AS replies,
  COUNT(DISTINCT IF(t.kind = 'quote', t.tweet_id, NULL)) AS quotes
FROM ` + fmt.Sprintf("`%s.%s.tweets_current`", project, dataset) + ` AS t
WHERE t.referenced_tweet_id IN ` + in + ` AND t.kind IN ('retweet', 'reply', 'quote')
  AND ` + countableSQL() + `
GROUP BY t.referenced_tweet_id`
}

// sqlInList is ids as an SQL IN list of string literals; an empty list matches nothing.
func sqlInList(ids []string) string {
	if len(ids) == 0 {
		return "('')"
	}
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = sqlString(id)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}
