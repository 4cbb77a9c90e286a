package event

import (
	"reflect"
	"strings"
	"time"
)

// Ingestion is the metadata every row carries: which Pub/Sub message it came from and when.
// Pub/Sub delivers at least once, so the message id is what the dedup views key on.
type Ingestion struct {
	MessageID     string    `bigquery:"message_id"`
	PublishTime   time.Time `bigquery:"publish_time"`
	Source        string    `bigquery:"source"`
	IngestedAt    time.Time `bigquery:"ingested_at"`
	SchemaVersion string    `bigquery:"schema_version"`
}

// TweetRow is one tweet, retweet, reply or quote, the same for X API v1.1 and v2.
type TweetRow struct {
	// EventTime is created_at, or the publish time when the payload has no created_at; tables
	// are partitioned on it.
	EventTime         time.Time      `bigquery:"event_time"`
	TweetID           string         `bigquery:"tweet_id"`
	Kind              string         `bigquery:"kind"`
	CreatedAt         time.Time      `bigquery:"created_at"`
	AuthorID          string         `bigquery:"author_id"`
	AuthorHandle      string         `bigquery:"author_handle"`
	Text              string         `bigquery:"text"`
	Lang              string         `bigquery:"lang"`
	ReferencedTweetID string         `bigquery:"referenced_tweet_id"`
	RepliedToTweetID  string         `bigquery:"replied_to_tweet_id"`
	RepliedToUserID   string         `bigquery:"replied_to_user_id"`
	QuotedTweetID     string         `bigquery:"quoted_tweet_id"`
	RetweetedTweetID  string         `bigquery:"retweeted_tweet_id"`
	Hashtags          []string       `bigquery:"hashtags"`
	Mentions          []string       `bigquery:"mentions"`
	URLs              []string       `bigquery:"urls"`
	MatchingRules     []MatchingRule `bigquery:"matching_rules"`
	APIVersion        string         `bigquery:"api_version"`
	Raw               string         `bigquery:"raw"`
	Ingestion
}

// StreamEventRow is one stream control message (delete, limit, disconnect...) or v2 stream error.
type StreamEventRow struct {
	EventTime           time.Time `bigquery:"event_time"`
	Kind                string    `bigquery:"kind"`
	TweetID             string    `bigquery:"tweet_id"`
	UserID              string    `bigquery:"user_id"`
	UpToTweetID         string    `bigquery:"up_to_tweet_id"`
	TrackLimit          *int64    `bigquery:"track_limit"`
	Code                string    `bigquery:"code"`
	Reason              string    `bigquery:"reason"`
	StreamName          string    `bigquery:"stream_name"`
	WithheldInCountries []string  `bigquery:"withheld_in_countries"`
	APIVersion          string    `bigquery:"api_version"`
	Raw                 string    `bigquery:"raw"`
	Ingestion
}

// AppEventRow is one app event.
type AppEventRow struct {
	EventTime    time.Time `bigquery:"event_time"`
	EventID      string    `bigquery:"event_id"`
	Kind         string    `bigquery:"kind"`
	Name         string    `bigquery:"name"`
	UserID       string    `bigquery:"user_id"`
	SessionID    string    `bigquery:"session_id"`
	Query        string    `bigquery:"query"`
	ResultsCount *int64    `bigquery:"results_count"`
	ItemID       string    `bigquery:"item_id"`
	Properties   string    `bigquery:"properties"`
	Raw          string    `bigquery:"raw"`
	Ingestion
	// App is the event's app (DefaultApp when it named none). It is the last column and
	// NULLABLE because it was added to an existing table: "New columns ... are always added at
	// the end of the table" and "must be NULLABLE or REPEATED"
	// (https://cloud.google.com/bigquery/docs/managing-table-schemas#add_an_empty_column).
	// Rows loaded before it have NULL, which the dedup view reads as DefaultApp.
	App string `bigquery:"app"`
}

// Attribute is one Pub/Sub attribute, as stored with a dead letter.
type Attribute struct {
	Key   string `bigquery:"key"`
	Value string `bigquery:"value"`
}

// DeadLetterRow is a message that can never load, kept whole with the reason.
type DeadLetterRow struct {
	DeadLetteredAt  time.Time   `bigquery:"dead_lettered_at"`
	MessageID       string      `bigquery:"message_id"`
	PublishTime     time.Time   `bigquery:"publish_time"`
	Subscription    string      `bigquery:"subscription"`
	DeliveryAttempt *int64      `bigquery:"delivery_attempt"`
	Stage           string      `bigquery:"stage"`
	Reason          string      `bigquery:"reason"`
	Kind            string      `bigquery:"kind"`
	Source          string      `bigquery:"source"`
	Attributes      []Attribute `bigquery:"attributes"`
	Data            []byte      `bigquery:"data"`
	DataBytes       *int64      `bigquery:"data_bytes"`
}

// Values returns a row as BigQuery column values: the struct's `bigquery` tags name the columns,
// embedded structs are flattened, zero values become NULL (absent keys) unless behind a non-nil pointer, times are UTC with
// microsecond precision, slices become []any and nested structs map[string]any. These are the
// value types the warehouse writer encodes.
func Values(row any) map[string]any {
	v := reflect.ValueOf(row)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	out := map[string]any{}
	addFields(v, out)
	return out
}

var timeType = reflect.TypeFor[time.Time]()

func addFields(v reflect.Value, out map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			addFields(fv, out)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
		if name == "" || name == "-" {
			continue
		}
		if val, ok := value(fv); ok {
			out[name] = val
		}
	}
}

func value(v reflect.Value) (any, bool) {
	if v.IsZero() {
		return nil, false
	}
	switch {
	case v.Type() == timeType:
		return v.Interface().(time.Time).UTC().Truncate(time.Microsecond), true
	case v.Kind() == reflect.Pointer:
		// A non-nil pointer is a value that is meant even when zero (results_count 0).
		if e := v.Elem(); e.Kind() == reflect.Int64 {
			return e.Int(), true
		}
		return value(v.Elem())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return v.Bytes(), true
	case v.Kind() == reflect.Slice:
		list := make([]any, 0, v.Len())
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() == reflect.Struct && e.Type() != timeType {
				m := map[string]any{}
				addFields(e, m)
				list = append(list, m)
				continue
			}
			ev, _ := value(e)
			if ev == nil { // REPEATED columns cannot hold NULL; keep the zero value.
				ev = e.Interface()
			}
			list = append(list, ev)
		}
		return list, true
	case v.Kind() == reflect.Int64, v.Kind() == reflect.Int:
		return v.Int(), true
	}
	return v.Interface(), true
}
