package backfill

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Source names, as the spec's "source" field spells them.
const (
	SourceYouTube  = "youtube_analytics"
	SourceHTTPJSON = "http_json"
	SourceGA4      = "ga4"
)

// DefaultMaxTasks is the task limit when Limits.MaxTasks is zero.
const DefaultMaxTasks = 1_000_000

// Spec is a validated, normalized POST /backfills body.
type Spec struct {
	Source   string        `json:"source"`
	YouTube  *YouTubeSpec  `json:"youtube_analytics,omitempty"`
	HTTPJSON *HTTPJSONSpec `json:"http_json,omitempty"`
	GA4      *GA4Spec      `json:"ga4,omitempty"`
	// DryRun asks for the plan and a sample of tasks without creating the job.
	DryRun bool `json:"dry_run,omitempty"`
	// NewRun asks for a new job even when the same spec ran before (see RunNonce).
	NewRun bool `json:"new_run,omitempty"`
	// RunNonce is set by the caller (not the request body) when NewRun is true: a time or a
	// uuid that makes ID differ from every earlier run of the same spec.
	RunNonce string `json:"-"`
}

// YouTubeSpec selects YouTube Analytics reports: per video (VideoIDs) or for a whole channel.
type YouTubeSpec struct {
	VideoIDs   []string `json:"video_ids,omitempty"`
	Channel    string   `json:"channel,omitempty"`
	Metrics    []string `json:"metrics"`
	Dimensions []string `json:"dimensions,omitempty"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Chunk      string   `json:"chunk,omitempty"`
	Currency   string   `json:"currency,omitempty"`
}

// HTTPJSONSpec selects a plain JSON API: one paginated fetch per combination of Params.
type HTTPJSONSpec struct {
	URL         string              `json:"url"`
	Params      map[string][]string `json:"params,omitempty"`
	RecordsPath string              `json:"records_path,omitempty"`
	Pagination  *PaginationSpec     `json:"pagination,omitempty"`
	Headers     map[string]string   `json:"headers,omitempty"`
	// Secrets are the credentials the worker adds to every request, named by Secret Manager
	// resource: a spec never holds a credential's value.
	Secrets []SecretRef `json:"secrets,omitempty"`
}

// SecretRef names a credential by Secret Manager resource and says where requests carry it:
// {"header": "Authorization", "prefix": "Bearer ", "secret": "projects/P/secrets/S"} or
// {"query": "appid", "secret": "projects/P/secrets/S/versions/3"} (no version means latest).
type SecretRef = sources.Credential

// PaginationSpec says how an http_json fetch finds its next page.
type PaginationSpec struct {
	Type        string `json:"type,omitempty"`
	NextPath    string `json:"next_path,omitempty"`
	CursorPath  string `json:"cursor_path,omitempty"`
	CursorParam string `json:"cursor_param,omitempty"`
	PageParam   string `json:"page_param,omitempty"`
	StartPage   int    `json:"start_page,omitempty"`
	MaxPages    int    `json:"max_pages,omitempty"`
}

// Limits bounds what a spec may ask for.
type Limits struct {
	// MaxTasks caps the tasks one job may create; zero means DefaultMaxTasks.
	MaxTasks int
	// Hosts is the allow-list http_json URLs must pass.
	Hosts sources.HostPolicy
	// Now is the clock that decides which dates are in the future; nil means time.Now.
	Now func() time.Time
}

func (l Limits) maxTasks() int {
	if l.MaxTasks <= 0 {
		return DefaultMaxTasks
	}
	return l.MaxTasks
}

func (l Limits) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// FieldError says which field of a spec is wrong and why; the Backfill function answers 400
// with it.
type FieldError struct {
	// Field is the JSON path of the field, e.g. "youtube_analytics.end"; empty for the body.
	Field string `json:"field"`
	// Reason says what is wrong, for a person.
	Reason string `json:"reason"`
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseSpec decodes a POST /backfills body strictly (unknown fields are refused by name),
// validates every field, normalizes the spec (sorted ids and values, defaults filled in) and
// checks that its plan stays within lim. Errors are *FieldError.
func ParseSpec(body []byte, lim Limits) (*Spec, error) {
	if path := unknownField(body); path != "" {
		return nil, fieldErr(path, "unknown field")
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&s); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fieldErr(te.Field, "is a JSON %s, want %s", te.Value, jsonKind(te.Type.String()))
		}
		return nil, fieldErr("", "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fieldErr("", "invalid JSON: data after the object")
	}
	if err := s.validate(lim); err != nil {
		return nil, err
	}
	p, err := s.Plan()
	if err != nil {
		return nil, fieldErr(s.Source, "%v", err)
	}
	if max := lim.maxTasks(); p.Tasks > max {
		return nil, fieldErr(s.Source, "the job would create %d tasks, over the limit of %d", p.Tasks, max)
	}
	if n, err := p.largestTaskBytes(); err != nil {
		return nil, fieldErr(s.Source, "encoding its tasks: %v", err)
	} else if n > MaxTaskBodyBytes {
		return nil, fieldErr(s.Source, "its largest task would be %d bytes, over the limit of %d (Cloud Tasks refuses a task over 100 KB): shorten the URL, headers or parameter values", n, MaxTaskBodyBytes)
	}
	return &s, nil
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case goType == "int":
		return "an integer"
	case len(goType) > 2 && goType[:2] == "[]":
		return "an array"
	default:
		return "an object"
	}
}

func (s *Spec) validate(lim Limits) *FieldError {
	if s.Source == "" {
		return fieldErr("source", "missing: want %s", sourceNames())
	}
	src, ok := Lookup(s.Source)
	if !ok {
		return fieldErr("source", "unknown source %q: want %s", s.Source, sourceNames())
	}
	for _, other := range registered {
		if other.Name() != s.Source && other.HasSection(s) {
			return fieldErr(other.Name(), "not used by source %s", s.Source)
		}
	}
	if !src.HasSection(s) {
		return fieldErr(s.Source, "missing: source %s needs it", s.Source)
	}
	return src.Validate(s, lim)
}

// ID is the job id: "bf-" and 16 hex digits of the SHA-256 of the canonical spec (normalized,
// keys sorted, dry_run and new_run left out), so the same spec posted twice names the same
// job; with NewRun the RunNonce is hashed in too, naming a new job.
func (s *Spec) ID() string {
	c := *s
	c.DryRun, c.NewRun, c.RunNonce = false, false, ""
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("marshalling a spec cannot fail: %v", err))
	}
	h := sha256.New()
	h.Write(b)
	if s.NewRun && s.RunNonce != "" {
		h.Write([]byte("\x00run=" + s.RunNonce))
	}
	return "bf-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// JSON returns the canonical spec as stored with the job (dry_run and new_run included).
func (s *Spec) JSON() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("marshalling a spec cannot fail: %v", err))
	}
	return b
}

// sortedUnique sorts a copy of list and reports the index (in list) of the first duplicate.
func sortedUnique(list []string) ([]string, int) {
	seen := make(map[string]bool, len(list))
	for i, v := range list {
		if seen[v] {
			return nil, i
		}
		seen[v] = true
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return out, -1
}
