package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// AppEvent is one event an app sends to CollectEvents: a search, a detail view, or another kind
// kept as "other" with its name.
type AppEvent struct {
	// App names the app that sent the event; absent means DefaultApp. Ids are unique within an
	// app: two apps may use the same id for different events.
	App string `json:"app,omitempty"`
	// ID is the app's own id for the event; an event its app sends twice with the same id is
	// published once.
	ID           string          `json:"id,omitempty"`
	Kind         string          `json:"kind"`
	Time         *time.Time      `json:"time,omitempty"`
	UserID       string          `json:"user_id,omitempty"`
	SessionID    string          `json:"session_id,omitempty"`
	Query        string          `json:"query,omitempty"`
	ResultsCount *int64          `json:"results_count,omitempty"`
	ItemID       string          `json:"item_id,omitempty"`
	Properties   json.RawMessage `json:"properties,omitempty"`
}

// Limits on app events, chosen so that one event stays well inside a Pub/Sub message and a
// BigQuery row.
const (
	MaxAppEventBytes = 64 << 10
	maxIDLen         = 128
	// MaxAppLen is the longest app name (see appName for its characters).
	MaxAppLen   = 63
	maxQueryLen = 1024
	// MaxUserIDLen bounds user_id and session_id, in bytes: ServeRankings' recent views and
	// their tokens take user ids up to this (viewtoken.MaxUserIDLen, equal by a test), so a
	// longer one could be stored but never read.
	MaxUserIDLen = 128
	// MaxItemIDLen bounds item_id, in bytes: a ranking key, and room for a URL path.
	MaxItemIDLen = 1024
	// MaxFutureSkew is how far ahead of the server's clock an event's time may be.
	MaxFutureSkew = 24 * time.Hour
)

var kindName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// DefaultApp is the app of an event that names none: every event sent before apps existed.
const DefaultApp = "default"

// appName is what an app name may be: lower-case letters, digits, "_" and "-", starting with a
// letter, at most MaxAppLen. It has no ":", "/", "." or NUL, so it can be joined to an event id
// with any of them without ambiguity (the dedup keys do), and it is a valid Firestore document
// id prefix.
var appName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// ValidApp reports why an app name is not one, or nil.
func ValidApp(app string) error {
	switch {
	case len(app) > MaxAppLen:
		return invalid("app", "longer than %d characters", MaxAppLen)
	case !appName.MatchString(app):
		return invalid("app", "must match %s, got %q", appName, app)
	}
	return nil
}

// AppName returns the event's app: App, or DefaultApp when it names none.
func (e *AppEvent) AppName() string {
	if e.App == "" {
		return DefaultApp
	}
	return e.App
}

// InvalidError reports an event that can never be accepted, naming the field at fault.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ContractKind returns the contract kind of the event: search, detail_view, or other.
func (e *AppEvent) ContractKind() Kind {
	switch Kind(e.Kind) {
	case KindSearch:
		return KindSearch
	case KindDetailView:
		return KindDetailView
	}
	return KindOther
}

// AppEventTooLarge is the error for an event of size bytes, over MaxAppEventBytes; a reader
// that does not keep such an event whole reports it with this.
func AppEventTooLarge(size int64) error {
	return invalid("", "event is %d bytes, over the limit of %d", size, MaxAppEventBytes)
}

// ParseAppEvent decodes and validates one app event. now is the receiving clock, used to refuse
// times too far in the future. Unknown top-level fields are refused (a misspelt "querry" would
// otherwise be lost): free-form data belongs in "properties".
func ParseAppEvent(data []byte, now time.Time) (*AppEvent, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("", "empty event")
	}
	if len(data) > MaxAppEventBytes {
		return nil, AppEventTooLarge(int64(len(data)))
	}
	if !utf8.Valid(data) {
		return nil, invalid("", "event is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var e AppEvent
	if err := dec.Decode(&e); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, invalid("", "more than one JSON value")
	}
	return &e, e.Validate(now)
}

// decodeError turns encoding/json's errors into InvalidErrors that name the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return invalid(te.Field, "must be a %s, not a JSON %s", te.Type.String(), te.Value)
	case errors.As(err, &se):
		return invalid("", "malformed JSON at byte %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field (put free-form data in properties)")
	case strings.Contains(err.Error(), "parsing time"):
		return invalid("time", "must be an RFC 3339 timestamp: %v", err)
	}
	return invalid("", "malformed JSON: %v", err)
}

// Validate checks the fields of an event that decoded.
func (e *AppEvent) Validate(now time.Time) error {
	switch {
	case e.Kind == "":
		return invalid("kind", "required")
	case !kindName.MatchString(e.Kind):
		return invalid("kind", "must match %s, got %q", kindName, e.Kind)
	case e.App != "" && ValidApp(e.App) != nil:
		return ValidApp(e.App)
	case len(e.ID) > maxIDLen:
		return invalid("id", "longer than %d characters", maxIDLen)
	case e.ID != "" && strings.TrimSpace(e.ID) != e.ID:
		return invalid("id", "has leading or trailing space")
	case e.Time != nil && e.Time.After(now.Add(MaxFutureSkew)):
		return invalid("time", "%s is more than %s in the future", e.Time.Format(time.RFC3339), MaxFutureSkew)
	case e.Time != nil && e.Time.Year() < 2000:
		return invalid("time", "%s is before the year 2000", e.Time.Format(time.RFC3339))
	case e.ResultsCount != nil && *e.ResultsCount < 0:
		return invalid("results_count", "must not be negative")
	case len(e.Query) > maxQueryLen:
		return invalid("query", "longer than %d characters", maxQueryLen)
	case len(e.UserID) > MaxUserIDLen:
		return invalid("user_id", "%d bytes, over the limit of %d", len(e.UserID), MaxUserIDLen)
	case len(e.SessionID) > MaxUserIDLen:
		return invalid("session_id", "%d bytes, over the limit of %d", len(e.SessionID), MaxUserIDLen)
	case len(e.ItemID) > MaxItemIDLen:
		return invalid("item_id", "%d bytes, over the limit of %d", len(e.ItemID), MaxItemIDLen)
	}
	switch Kind(e.Kind) {
	case KindSearch:
		if strings.TrimSpace(e.Query) == "" {
			return invalid("query", "required for a search event")
		}
	case KindDetailView:
		if e.ItemID == "" {
			return invalid("item_id", "required for a detail_view event")
		}
	}
	if len(e.Properties) > 0 {
		if p := bytes.TrimSpace(e.Properties); len(p) == 0 || p[0] != '{' {
			return invalid("properties", "must be a JSON object")
		}
	}
	return nil
}
