package redrive

import (
	"fmt"
	"strings"
	"time"
)

// ParseTime reads a time flag: an RFC 3339 time ("2026-12-06T10:00:00Z"), a UTC date
// ("2026-12-06", its midnight), or a positive Go duration meaning that long before now
// ("36h", "90m").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration %q: want a positive duration (that long ago)", s)
		}
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time, a date (YYYY-MM-DD) nor a duration (36h)", s)
}
