package backfill

import (
	"fmt"
	"time"
)

// DateChunks lays the dates [start, end] (YYYY-MM-DD) out in periods for sources that plan by
// date: one a day (chunk day or ""), calendar weeks Monday to Sunday, or months, clipped to the
// range; for chunk range, the range cut into pieces(days) equal pieces (nil pieces: one).
func DateChunks(start, end, chunk string, pieces func(days int) int) ([]Period, error) {
	from0, err := ParseDate(start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	last, err := ParseDate(end)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	if last.Before(from0) {
		return nil, fmt.Errorf("end %s is before start %s", end, start)
	}
	days := int(last.Sub(from0).Hours()/24) + 1
	var out []Period
	add := func(from, to time.Time) {
		out = append(out, Period{Start: from.Format(DateLayout), End: to.Format(DateLayout)})
	}
	switch chunk {
	case ChunkDay, "":
		out = make([]Period, 0, days)
		for d := from0; !d.After(last); d = d.AddDate(0, 0, 1) {
			add(d, d)
		}
	case ChunkWeek:
		for from := from0; !from.After(last); {
			// Days until Sunday: Monday starts a week (ISO 8601).
			to := from.AddDate(0, 0, (7-int(from.Weekday()))%7)
			add(from, minTime(to, last))
			from = to.AddDate(0, 0, 1)
		}
	case ChunkMonth:
		for from := from0; !from.After(last); {
			to := time.Date(from.Year(), from.Month()+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			add(from, minTime(to, last))
			from = to.AddDate(0, 0, 1)
		}
	case ChunkRange:
		n := 1
		if pieces != nil {
			n = max(pieces(days), 1)
		}
		size := (days + n - 1) / n
		for from := from0; !from.After(last); from = from.AddDate(0, 0, size) {
			add(from, minTime(from.AddDate(0, 0, size-1), last))
		}
	default:
		return nil, fmt.Errorf("unknown chunk %q", chunk)
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Chunk sizes of a date-chunked source: how much time one task (one API query) covers.
const (
	ChunkDay   = "day"
	ChunkWeek  = "week"
	ChunkMonth = "month"
	ChunkRange = "range"
)

// DateLayout is the layout of a spec's dates (YYYY-MM-DD).
const DateLayout = "2006-01-02"

// ParseDate reads a spec's date, saying what is wrong with it for a FieldError.
func ParseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing: want a date YYYY-MM-DD")
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return t, nil
}

// ValidateDates checks a date-chunked section's start and end (fields prefix+"start" and
// prefix+"end"): dates, start no earlier than earliest (why says what is there before it),
// neither after today at now, end not before start. The mistake is a FieldError naming its field.
func ValidateDates(prefix, start, end string, earliest time.Time, why string, now time.Time) *FieldError {
	today := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	s, err := ParseDate(start)
	if err != nil {
		return FieldErrorf(prefix+"start", "%v", err)
	}
	e, err := ParseDate(end)
	if err != nil {
		return FieldErrorf(prefix+"end", "%v", err)
	}
	switch {
	case s.Before(earliest):
		return FieldErrorf(prefix+"start", "%s is before %s%s", start, earliest.Format(DateLayout), why)
	case s.After(today):
		return FieldErrorf(prefix+"start", "%s is in the future (today is %s)", start, today.Format(DateLayout))
	case e.After(today):
		return FieldErrorf(prefix+"end", "%s is in the future (today is %s)", end, today.Format(DateLayout))
	case e.Before(s):
		return FieldErrorf(prefix+"end", "%s is before start %s", end, start)
	}
	return nil
}

// ValidateChunk checks a section's chunk (field prefix+"chunk"), defaulting it to a day.
func ValidateChunk(prefix string, chunk *string) *FieldError {
	switch *chunk {
	case "":
		*chunk = ChunkDay
	case ChunkDay, ChunkWeek, ChunkMonth, ChunkRange:
	default:
		return FieldErrorf(prefix+"chunk", "unknown chunk %q: want day, week, month or range", *chunk)
	}
	return nil
}
