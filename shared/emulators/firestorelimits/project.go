package firestorelimits

// ProjectConfig returns this project's indexes as terraform/firestore.tf and
// terraform/rankings.tf declare them (with the variables' defaults), for New:
//
//	c, err := firestorelimits.New(firestorelimits.ProjectConfig())
//
// TestProjectConfigIsTerraforms reads the .tf files and fails when the two differ.
func ProjectConfig() Config {
	var exs []Exemption
	// Firestore deletes documents after expires_at; nothing queries it, and an index on a
	// rising timestamp would cap the write rate (firestore.tf, rankings.tf).
	for _, group := range []string{"collect_events_seen", "rankings_counts", "rankings_tweets", "rankings_events", "rankings_views", "rankings_tweet_counts", "rankings_log", "rankings_dups", "rankings_keys"} {
		exs = append(exs, Exemption{CollectionGroup: group, FieldPath: "expires_at"})
	}
	// A bucket's count map and label map: one field per key (rankings.tf).
	exs = append(exs,
		Exemption{CollectionGroup: "rankings_counts", FieldPath: "c"},
		Exemption{CollectionGroup: "rankings_counts", FieldPath: "k"},
	)
	// Markers' bodies, read back by document ID only (rankings.tf).
	exs = append(exs,
		Exemption{CollectionGroup: "rankings_tweets", FieldPath: "body"},
		Exemption{CollectionGroup: "rankings_events", FieldPath: "body"},
	)
	// The log layout's record and ledger bodies, and a record's rising minute, which only the
	// composite index below orders on (rankings.tf's rankings_log_unindexed).
	exs = append(exs,
		Exemption{CollectionGroup: "rankings_log", FieldPath: "body"},
		Exemption{CollectionGroup: "rankings_log", FieldPath: "minute_us"},
		Exemption{CollectionGroup: "rankings_log", FieldPath: "q"},
		Exemption{CollectionGroup: "rankings_dups", FieldPath: "body"},
		Exemption{CollectionGroup: "rankings_keys", FieldPath: "a"},
	)
	// Backfill fields no query uses (firestore.tf's backfill_unindexed_fields): fewer index
	// entries per write, and no index on a rising value.
	for group, fields := range map[string][]string{
		"shards":   {"index", "shard", "attempts", "reason", "rows", "api_calls", "updated_at"},
		"counters": {"succeeded", "failed", "retrying", "cancelled", "rows", "api_calls", "enqueued", "updated_at"},
		"sweeps":   {"index", "attempts", "at"},
		"enqueued": {"from", "to", "at"},
		"raw":      {"job", "shard", "part", "parts", "pages", "write", "data", "stored_at", "chunked"},
	} {
		for _, f := range fields {
			exs = append(exs, Exemption{CollectionGroup: group, FieldPath: f})
		}
	}
	return Config{
		Exemptions: exs,
		CompositeIndexes: []CompositeIndex{
			// The scheduled sweep's rotation (firestore.tf).
			{CollectionGroup: "backfills", Fields: []IndexField{
				{FieldPath: "state", Mode: Ascending}, {FieldPath: "swept_at", Mode: Ascending},
			}},
			{CollectionGroup: "rankings_counts", Fields: []IndexField{
				{FieldPath: "ranking", Mode: Ascending}, {FieldPath: "size", Mode: Ascending}, {FieldPath: "bucket", Mode: Ascending},
			}},
			{CollectionGroup: "rankings_views", Fields: []IndexField{
				{FieldPath: "user_id", Mode: Ascending}, {FieldPath: "viewed_us", Mode: Descending}, {FieldPath: "item_id", Mode: Ascending},
			}},
			{CollectionGroup: "rankings_tweets", Fields: []IndexField{
				{FieldPath: "terms", Mode: ArrayContains}, {FieldPath: "deleted", Mode: Ascending},
				{FieldPath: "created_us", Mode: Descending}, {FieldPath: "id_key", Mode: Descending},
			}},
			{CollectionGroup: "rankings_tweets", Fields: []IndexField{
				{FieldPath: "referenced_tweet_id", Mode: Ascending}, {FieldPath: "kind", Mode: Ascending},
				{FieldPath: "deleted", Mode: Ascending}, {FieldPath: "id_key", Mode: Ascending},
			}},
			// The log layout's latest tweets of a term (rankings.tf's rankings_log_by_term).
			{CollectionGroup: "rankings_log", Fields: []IndexField{
				{FieldPath: "terms", Mode: ArrayContains}, {FieldPath: "minute_us", Mode: Descending},
			}},
		},
	}
}
