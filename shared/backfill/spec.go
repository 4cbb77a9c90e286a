package backfill

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// DefaultMaxTasks is the task limit when Limits.MaxTasks is zero (callers without a
// configuration of their own); Backfill sets its own, MAX_TASKS (default 10,000,000).
const DefaultMaxTasks = 1_000_000

// Spec is a validated, normalized POST /backfills body: {"source": name, name: section,
// "dry_run": ..., "new_run": ...}. The section belongs to the source, which parses it from its
// own JSON (Source.Parse); the core keeps it as the source normalized it (see MarshalJSON).
type Spec struct {
	Source string `json:"source"`
	// Section is the source's section as the source parsed and normalized it (a pointer to the
	// source's own type); nil before ParseSpec.
	Section any `json:"-"`
	// DryRun asks for the plan and a sample of tasks without creating the job.
	DryRun bool `json:"dry_run,omitempty"`
	// NewRun asks for a new job even when the same spec ran before (see RunNonce).
	NewRun bool `json:"new_run,omitempty"`
	// RunNonce is set by the caller (not the request body) when NewRun is true: a time or a
	// uuid that makes ID differ from every earlier run of the same spec.
	RunNonce string `json:"-"`
}

// Limits bounds what a spec may ask for.
type Limits struct {
	// MaxTasks caps the tasks one job may create; zero means DefaultMaxTasks.
	MaxTasks int
	// Settings are the sources' settings a spec is checked against (Setting.Spec), by source
	// name: an allow-list of hosts.
	Settings SourceSettings
	// AllowPrivateHosts lets specs name private addresses (ALLOW_PRIVATE_HOSTS); local only.
	AllowPrivateHosts bool
	// Now is the clock that decides which dates are in the future; nil means time.Now.
	Now func() time.Time
}

func (l Limits) maxTasks() int {
	if l.MaxTasks <= 0 {
		return DefaultMaxTasks
	}
	return l.MaxTasks
}

// Clock is the time now by the limits' clock.
func (l Limits) Clock() time.Time {
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

// FieldErrorf is a FieldError on field with a formatted reason.
func FieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseSpec decodes a POST /backfills body strictly (unknown fields are refused by name),
// validates every field, normalizes the spec (sorted ids and values, defaults filled in) and
// checks that its plan stays within lim. Errors are *FieldError.
func ParseSpec(body []byte, lim Limits) (*Spec, error) {
	var top map[string]json.RawMessage
	if fe := DecodeStrict(body, &top, ""); fe != nil {
		return nil, fe
	}
	var s Spec
	sections := map[string]json.RawMessage{}
	for _, k := range sortedKeys(top) {
		var fe *FieldError
		switch k {
		case "source":
			fe = DecodeStrict(top[k], &s.Source, k)
		case "dry_run":
			fe = DecodeStrict(top[k], &s.DryRun, k)
		case "new_run":
			fe = DecodeStrict(top[k], &s.NewRun, k)
		default:
			if _, ok := Lookup(k); !ok {
				fe = FieldErrorf(k, "unknown field")
			}
			sections[k] = top[k]
		}
		if fe != nil {
			return nil, fe
		}
	}
	if err := s.validate(sections, lim); err != nil {
		return nil, err
	}
	p, err := s.Plan()
	if err != nil {
		return nil, FieldErrorf(s.Source, "%v", err)
	}
	if max := lim.maxTasks(); p.Tasks > max {
		return nil, FieldErrorf(s.Source, "the job would create %d tasks, over the limit of %d", p.Tasks, max)
	}
	if n, err := p.largestTaskBytes(); err != nil {
		return nil, FieldErrorf(s.Source, "encoding its tasks: %v", err)
	} else if n > MaxTaskBodyBytes {
		return nil, FieldErrorf(s.Source, "its largest task would be %d bytes, over the limit of %d (Cloud Tasks refuses a task over 100 KB): shorten the URL, headers or parameter values", n, MaxTaskBodyBytes)
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

func (s *Spec) validate(sections map[string]json.RawMessage, lim Limits) *FieldError {
	if s.Source == "" {
		return FieldErrorf("source", "missing: want %s", sourceNames())
	}
	src, ok := Lookup(s.Source)
	if !ok {
		return FieldErrorf("source", "unknown source %q: want %s", s.Source, sourceNames())
	}
	for _, other := range registered {
		if _, has := sections[other.Name()]; has && other.Name() != s.Source {
			return FieldErrorf(other.Name(), "not used by source %s", s.Source)
		}
	}
	raw, has := sections[s.Source]
	if !has || string(raw) == "null" {
		return FieldErrorf(s.Source, "missing: source %s needs it", s.Source)
	}
	section := src.NewSection()
	if fe := DecodeStrict(raw, section, s.Source); fe != nil {
		return fe
	}
	if fe := src.Validate(section, lim); fe != nil {
		return fe
	}
	s.Section = section
	return nil
}

// UnmarshalJSON reads a stored spec (a job document's) as it was written, without checking it
// again: the source's section decodes into the source's own type.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return err
	}
	var head struct {
		Source string `json:"source"`
		DryRun bool   `json:"dry_run"`
		NewRun bool   `json:"new_run"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	*s = Spec{Source: head.Source, DryRun: head.DryRun, NewRun: head.NewRun}
	src, ok := Lookup(s.Source)
	if !ok {
		return fmt.Errorf("unknown source %q: want %s", s.Source, sourceNames())
	}
	if raw, ok := top[s.Source]; ok && string(raw) != "null" {
		section := src.NewSection()
		if err := json.Unmarshal(raw, section); err != nil {
			return fmt.Errorf("decoding the %s section: %w", s.Source, err)
		}
		s.Section = section
	}
	return nil
}

// MarshalJSON writes {"source", the section under the source's name, "dry_run", "new_run"}:
// the order and bytes the spec had when each source was a typed field of it, so job ids (a hash
// of these bytes) and stored job documents stay what they were.
func (s Spec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	src, err := json.Marshal(s.Source)
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"source":`)
	b.Write(src)
	if s.Section != nil && s.Source != "" {
		sec, err := json.Marshal(s.Section)
		if err != nil {
			return nil, fmt.Errorf("encoding the %s section: %w", s.Source, err)
		}
		name, _ := json.Marshal(s.Source)
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		b.Write(sec)
	}
	if s.DryRun {
		b.WriteString(`,"dry_run":true`)
	}
	if s.NewRun {
		b.WriteString(`,"new_run":true`)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
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

// SortedUnique sorts a copy of list and reports the index (in list) of the first duplicate.
func SortedUnique(list []string) ([]string, int) {
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
