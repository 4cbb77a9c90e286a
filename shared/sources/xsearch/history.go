package xsearch

import (
	"encoding/json"
	"time"
)

// A deck column's history (backfill.TermHistorian): the spec of a keyword's or hashtag's last
// 7 days of recent search, the same spec for every start within one HistoryPeriod so that
// repeated starts (double clicks, many tabs, many instances) name one job (docs/deck.md, "A
// column's history").

const (
	// HistoryPeriod is how long one term's history spec stays the same: start and end are
	// rounded to it, and Backfill's job id is the hash of the spec.
	HistoryPeriod = 10 * time.Minute
	// historySliceMinutes is one task's share of the 7 days: 6 hours, 28 tasks, so a column's
	// progress moves in steps a person sees.
	historySliceMinutes = 360
)

// HistoryRange is the range a history started at now covers: end is now less the lag X needs,
// rounded down to HistoryPeriod; start is 7 days before the next period but one, plus the hour
// the validation keeps inside X's window. Both depend only on now's period, so a spec built by
// any instance at any time of it is the same, and the Backfill function (whose clock may run up
// to HistoryPeriod − 10 s later) still finds start inside its window.
func HistoryRange(now time.Time) (start, end time.Time) {
	end = now.UTC().Add(-xSearchEndLag).Truncate(HistoryPeriod)
	start = end.Add(2*HistoryPeriod - xSearchWindow + xSearchWindowMargin)
	return start, end
}

// TermHistory is the spec of term's recent past at now, searched as X reads it (a keyword or
// #hashtag, case-insensitively), and the range it covers.
func (Source) TermHistory(term string, now time.Time, dryRun bool) (spec []byte, start, end time.Time) {
	start, end = HistoryRange(now)
	s := struct {
		Source string      `json:"source"`
		X      XSearchSpec `json:"x_search"`
		DryRun bool        `json:"dry_run,omitempty"`
	}{Name, XSearchSpec{Query: term, Endpoint: XSearchRecent, Start: start.Format(time.RFC3339),
		End: end.Format(time.RFC3339), SliceMinutes: historySliceMinutes}, dryRun}
	b, err := json.Marshal(s)
	if err != nil {
		panic("xsearch: encoding a history spec cannot fail: " + err.Error())
	}
	return b, start, end
}
