package redrive

import (
	"testing"
	"time"
)

func TestFilterValidate(t *testing.T) {
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	tests := []struct {
		name string
		f    Filter
		ok   bool
	}{
		{"range", Filter{Since: since, Until: until}, true},
		{"range and every field", Filter{Since: since, Until: until, Reason: "x", ReasonExact: true, Kind: "search", Stage: "append"}, true},
		{"no since", Filter{Until: until}, false},
		{"no until", Filter{Since: since}, false},
		{"empty range", Filter{Since: since, Until: since}, false},
		{"exact empty reason", Filter{Since: since, Until: until, ReasonExact: true}, false},
	}
	for _, tt := range tests {
		if err := tt.f.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestFilterID(t *testing.T) {
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	base := Filter{Since: since, Until: since.Add(time.Hour), Reason: "user_id", Kind: "search"}
	same := base
	same.Since = since.In(time.FixedZone("x", 3600)) // the same instant elsewhere
	if base.ID() != same.ID() {
		t.Errorf("ID() differs for the same filter: %s, %s", base.ID(), same.ID())
	}
	others := []Filter{base, base, base, base}
	others[0].ReasonExact = true
	others[1].Kind = "searc"
	others[1].Reason = "hsearch" // not the same as moving a byte between fields
	others[2].Until = others[2].Until.Add(time.Nanosecond)
	others[3].Stage = "append"
	seen := map[string]int{base.ID(): -1}
	for i, o := range others {
		if j, dup := seen[o.ID()]; dup {
			t.Errorf("filters %d and %d share the id %s", i, j, o.ID())
		}
		seen[o.ID()] = i
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-01T08:30:00Z", time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC), true},
		{"2026-12-01T09:30:00.5+01:00", time.Date(2026, 12, 1, 8, 30, 0, 5e8, time.UTC), true},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"36h", now.Add(-36 * time.Hour), true},
		{" 90m ", now.Add(-90 * time.Minute), true},
		{"0s", time.Time{}, false},
		{"-1h", time.Time{}, false},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2026-13-01", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %s, %v; want %s, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzParseTime: no flag value makes ParseTime panic; a time it returns is in UTC, and a
// duration is never in the future.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-12-01T08:30:00Z", "2026-12-01", "36h", "-1h", "1e9h", "9223372036854775807ns", "\xff"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %s, not UTC", s, got)
		}
		if _, derr := time.ParseDuration(s); derr == nil && got.After(now) {
			t.Errorf("ParseTime(%q) = %s, after now %s", s, got, now)
		}
	})
}
