package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is a Pub/Sub message as the loader receives it.
type Message struct {
	ID              string
	PublishTime     time.Time
	Data            []byte
	Attributes      map[string]string
	Subscription    string
	DeliveryAttempt int
}

// MaxMessageBytes is the largest message the loader turns into a row. The row holds the raw
// JSON besides the parsed columns, and one Storage Write append request is at most 10 MB.
const MaxMessageBytes = 4 << 20

// MaxDeadLetterData is how much of a message's data a dead-letter row keeps. Pub/Sub messages
// can be 10 MB, more than one Storage Write append request may carry with the other columns.
const MaxDeadLetterData = 8 << 20

// Record is a decoded message: its kind, the table it belongs to, and the row.
type Record struct {
	Kind  Kind
	Table string
	Row   any // *TweetRow, *StreamEventRow or *AppEventRow
}

// Decode turns a message into its row. Every error it returns is permanent, an *InvalidError:
// the same bytes will never decode, so the caller dead-letters the message instead of retrying.
func Decode(m Message, now time.Time) (Record, error) {
	data := bytes.TrimSpace(m.Data)
	switch {
	case len(data) == 0:
		return Record{}, invalid("data", "empty message data")
	case len(data) > MaxMessageBytes:
		return Record{}, invalid("data", "%d bytes, over the limit of %d for one row", len(data), MaxMessageBytes)
	case !utf8.Valid(data):
		return Record{}, invalid("data", "not valid UTF-8")
	case data[0] != '{':
		if !json.Valid(data) {
			return Record{}, invalid("data", "not JSON")
		}
		return Record{}, invalid("data", "not a JSON object")
	}
	// A redriven message is loaded as its first delivery: same message id, same publish time.
	id, published, err := FirstDelivery(m)
	if err != nil {
		return Record{}, err
	}
	ing := Ingestion{
		MessageID:     id,
		PublishTime:   published.UTC(),
		Source:        m.Attributes[AttrSource],
		IngestedAt:    now.UTC(),
		SchemaVersion: SchemaVersion,
	}
	if ing.Source == "" {
		ing.Source = "pubsub"
	}
	switch {
	case ing.MessageID == "":
		return Record{}, invalid("message_id", "required")
	case ing.PublishTime.IsZero():
		return Record{}, invalid("publish_time", "required")
	}
	if isAppEvent(data) {
		return decodeApp(data, m.Attributes[AttrApp], ing, now)
	}
	x, err := ParseX(data)
	var unmodelled *UnmodelledError
	switch {
	case errors.As(err, &unmodelled):
		return Record{}, invalid("data", "%s: an X stream message the event contract does not model", unmodelled)
	case errors.Is(err, ErrNotX):
		return Record{}, invalid("data", "unknown kind: a JSON object that is neither an X stream message nor an app event (top-level keys: %s)", topKeys(data))
	}
	if err != nil {
		if !json.Valid(data) {
			return Record{}, invalid("data", "not JSON: %v", err)
		}
		return Record{}, invalid("data", "%v", err)
	}
	return XRecord(x, string(data), ing), nil
}

// topKeys lists an object's top-level keys, sorted, at most 8, for a dead letter's reason.
func topKeys(data []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return "?"
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "none"
	}
	if len(keys) > 8 {
		keys = append(keys[:8], "...")
	}
	return strings.Join(keys, ", ")
}

// isAppEvent reports whether a payload is an app event: a top-level "kind" string, which no X
// stream message has.
func isAppEvent(data []byte) bool {
	var probe struct {
		Kind json.RawMessage `json:"kind"`
	}
	return json.Unmarshal(data, &probe) == nil && len(probe.Kind) > 0
}

// XRecord builds the row of a parsed X message.
func XRecord(x *XEvent, raw string, ing Ingestion) Record {
	if x.Tweet != nil {
		t := x.Tweet
		row := &TweetRow{
			EventTime: t.CreatedAt, TweetID: t.ID, Kind: string(x.Kind), CreatedAt: t.CreatedAt,
			AuthorID: t.AuthorID, AuthorHandle: t.AuthorHandle, Text: t.Text, Lang: t.Lang,
			ReferencedTweetID: t.ReferencedTweetID, Hashtags: t.Hashtags, Mentions: t.Mentions,
			RepliedToTweetID: t.RepliedToTweetID, RepliedToUserID: t.RepliedToUserID,
			QuotedTweetID: t.QuotedTweetID, RetweetedTweetID: t.RetweetedTweetID,
			URLs: t.URLs, MatchingRules: t.MatchingRules, APIVersion: x.APIVersion, Raw: raw, Ingestion: ing,
		}
		if row.EventTime.IsZero() {
			row.EventTime = ing.PublishTime
		}
		return Record{Kind: x.Kind, Table: TableTweets, Row: row}
	}
	c := x.Control
	row := &StreamEventRow{
		EventTime: c.Time, Kind: string(x.Kind), TweetID: c.TweetID, UserID: c.UserID,
		UpToTweetID: c.UpToTweetID, Code: c.Code, Reason: c.Reason, StreamName: c.StreamName,
		WithheldInCountries: c.WithheldInCountries, APIVersion: x.APIVersion, Raw: raw, Ingestion: ing,
	}
	if x.Kind == KindLimit {
		n := c.TrackLimit
		row.TrackLimit = &n
	}
	if row.EventTime.IsZero() {
		row.EventTime = ing.PublishTime
	}
	return Record{Kind: x.Kind, Table: TableStreamEvents, Row: row}
}

// decodeApp builds an app event's row. Its app is the event's own, else the collector's app
// attribute (the app a request was made for), else DefaultApp: messages published before apps
// existed have neither.
func decodeApp(data []byte, attrApp string, ing Ingestion, now time.Time) (Record, error) {
	e, err := ParseAppEvent(data, now)
	if err != nil {
		return Record{}, err
	}
	if attrApp != "" {
		if err := ValidApp(attrApp); err != nil {
			return Record{}, invalid("app", "attribute %s: %v", AttrApp, err.(*InvalidError).Reason)
		}
		if e.App != "" && e.App != attrApp {
			return Record{}, invalid("app", "the event says %q, the %s attribute %q", e.App, AttrApp, attrApp)
		}
		e.App = attrApp
	}
	kind := e.ContractKind()
	row := &AppEventRow{
		EventTime: ing.PublishTime, App: e.AppName(), EventID: e.ID, Kind: string(kind), Name: e.Kind,
		UserID: e.UserID, SessionID: e.SessionID, Query: e.Query, ResultsCount: e.ResultsCount,
		ItemID: e.ItemID, Properties: string(e.Properties), Raw: string(data), Ingestion: ing,
	}
	if e.Time != nil {
		row.EventTime = e.Time.UTC()
	}
	if row.EventID == "" {
		// Without an app id the message id is the only key; a resend is then a new event.
		row.EventID = "msg:" + ing.MessageID
	}
	return Record{Kind: kind, Table: TableAppEvents, Row: row}, nil
}

// Dead-letter stages: where in the loader a message failed.
const (
	StageDecode = "decode"
	StageAppend = "append"
)

// NewDeadLetter builds the dead-letter row for a message that can never load. An empty kind
// (the message never decoded) becomes the message's kind attribute, or Unclassified without
// one, so the kind column is never NULL.
func NewDeadLetter(m Message, stage, reason string, kind Kind, now time.Time) *DeadLetterRow {
	if kind == "" {
		kind = Kind(m.Attributes[AttrKind])
	}
	if kind == "" {
		kind = Unclassified
	}
	row := &DeadLetterRow{
		DeadLetteredAt: now.UTC(), MessageID: m.ID, PublishTime: m.PublishTime.UTC(),
		Subscription: m.Subscription, Stage: stage, Reason: reason, Kind: string(kind),
		Source: m.Attributes[AttrSource], Data: m.Data,
	}
	size := int64(len(m.Data))
	row.DataBytes = &size
	if len(row.Data) > MaxDeadLetterData {
		// One append request is at most 10 MB; the size and the reason still say what came.
		row.Data = row.Data[:MaxDeadLetterData]
	}
	if m.DeliveryAttempt > 0 {
		n := int64(m.DeliveryAttempt)
		row.DeliveryAttempt = &n
	}
	keys := make([]string, 0, len(m.Attributes))
	for k := range m.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row.Attributes = append(row.Attributes, Attribute{Key: k, Value: m.Attributes[k]})
	}
	return row
}

// AppAttributes returns the Pub/Sub attributes CollectEvents publishes an app event with: those
// of Attributes and the event's app.
func AppAttributes(e *AppEvent) map[string]string {
	a := Attributes(e.ContractKind(), SourceApp, "", e.ID)
	a[AttrApp] = e.AppName()
	return a
}

// Attributes returns the Pub/Sub attributes a collector publishes an event with.
func Attributes(kind Kind, source, lang, eventID string) map[string]string {
	a := map[string]string{AttrKind: string(kind), AttrSource: source, AttrSchemaVersion: SchemaVersion}
	if lang != "" {
		a[AttrLang] = lang
	}
	if eventID != "" {
		a[AttrEventID] = eventID
	}
	return a
}

// XAttributes classifies an X stream message and returns its kind and publish attributes.
func XAttributes(data []byte, source string) (*XEvent, map[string]string, error) {
	x, err := ParseX(data)
	if err != nil {
		return nil, nil, fmt.Errorf("classifying X message: %w", err)
	}
	id := ""
	if x.Tweet != nil {
		id = x.Tweet.ID
	}
	return x, Attributes(x.Kind, source, x.Lang, id), nil
}
