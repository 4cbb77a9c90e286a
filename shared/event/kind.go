// Package event is the project's event contract: the kinds of event the collectors publish, the
// Pub/Sub attributes they carry, how a raw payload is classified, and the BigQuery row each kind
// becomes. Collectors and the loader both use it, so a message is classified the same way at
// either end, and the schema files under terraform/schemas are tested against the rows here.
//
// Reference: docs/event-contract.md.
package event

import "slices"

// Kind names what an event is. The names are part of the public contract: they appear in the
// Pub/Sub "kind" attribute, in the kind column of every table and in the replay summary.
type Kind string

// Tweet kinds, for X API v1.1 and v2 payloads alike.
const (
	KindTweet   Kind = "tweet"
	KindRetweet Kind = "retweet"
	KindReply   Kind = "reply"
	KindQuote   Kind = "quote"
)

// Stream control kinds: the v1.1 control messages and the v2 stream error object.
const (
	KindDelete         Kind = "delete"
	KindScrubGeo       Kind = "scrub_geo"
	KindLimit          Kind = "limit"
	KindDisconnect     Kind = "disconnect"
	KindWarning        Kind = "warning"
	KindStatusWithheld Kind = "status_withheld"
	KindUserWithheld   Kind = "user_withheld"
	KindStreamError    Kind = "stream_error"
)

// App event kinds. KindOther keeps events of kinds an app sends that we do not model yet.
const (
	KindSearch     Kind = "search"
	KindDetailView Kind = "detail_view"
	KindOther      Kind = "other"
)

// Unclassified is the kind attribute of a message that classified as no kind of the contract.
// Collectors still publish it, so the loader dead-letters it with its reason: nothing is
// dropped silently. It is not a Kind: no table holds it.
const Unclassified = "unclassified"

// Table names, one per family of kinds, plus the dead-letter table.
const (
	TableTweets       = "tweets"
	TableStreamEvents = "stream_events"
	TableAppEvents    = "app_events"
	TableDeadLetters  = "dead_letters"
)

// Tables lists every table the loader writes, in a stable order.
var Tables = []string{TableTweets, TableStreamEvents, TableAppEvents, TableDeadLetters}

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{
	KindTweet, KindRetweet, KindReply, KindQuote,
	KindDelete, KindScrubGeo, KindLimit, KindDisconnect, KindWarning, KindStatusWithheld, KindUserWithheld, KindStreamError,
	KindSearch, KindDetailView, KindOther,
}

// Table returns the table that rows of this kind are written to, or "" for an unknown kind.
func (k Kind) Table() string {
	switch k {
	case KindTweet, KindRetweet, KindReply, KindQuote:
		return TableTweets
	case KindDelete, KindScrubGeo, KindLimit, KindDisconnect, KindWarning, KindStatusWithheld, KindUserWithheld, KindStreamError:
		return TableStreamEvents
	case KindSearch, KindDetailView, KindOther:
		return TableAppEvents
	}
	return ""
}

// Valid reports whether k is one of the kinds of the contract.
func (k Kind) Valid() bool { return k.Table() != "" }

// Pub/Sub attribute keys set on every published message, so subscriptions can filter
// (for example `attributes.kind = "tweet"`).
const (
	AttrKind          = "kind"
	AttrSource        = "source"
	AttrLang          = "lang"
	AttrSchemaVersion = "schema_version"
	// AttrEventID carries the app event's id, or the tweet id, for tracing a message to its row.
	AttrEventID = "event_id"
	// AttrApp carries an app event's app (DefaultApp when it names none); the loader takes it
	// when the event itself names no app.
	AttrApp = "app"
)

// SchemaVersion is the version of this contract, sent in the schema_version attribute and
// stored in every row. Bump it when a row's meaning changes.
const SchemaVersion = "1"

// Sources: where an event entered the pipeline.
const (
	SourceXStream = "x_stream"
	SourceReplay  = "replay"
	SourceApp     = "app"
	// SourceXSearch marks tweets an x_search backfill found (X API v2 search), published as the
	// stream publishes its own.
	SourceXSearch = "x_search"
)

// countAtCreation are the sources whose tweets count at their created_at (the event_time) rather
// than at publication: a backfill writes last week's tweets now, and they belong to last week
// (docs/event-contract.md). Messages already published with these values keep counting so.
var countAtCreation = []string{SourceXSearch}

// CountsAtCreation reports whether a tweet published with source counts at its created_at.
func CountsAtCreation(source string) bool { return slices.Contains(countAtCreation, source) }

// SourcesCountingAtCreation lists the sources CountsAtCreation holds for, for queries that
// decide the same in SQL.
func SourcesCountingAtCreation() []string { return slices.Clone(countAtCreation) }
