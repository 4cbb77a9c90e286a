package xsearch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
)

// spec is a column history's spec for #gcp built at now.
func spec(now time.Time) []byte {
	b, _, _ := xsearch.Source{}.TermHistory("#gcp", now, false)
	return b
}

// The source fills a deck column's history.
var _ backfill.TermHistorian = xsearch.Source{}

// TestTermHistoryPassesValidation: the spec built at any moment of a period passes the
// x_search validation (the real parser) at the Backfill function's clock, from the same moment
// to xsearch.HistoryPeriod − 10 s later, and its range is the last 7 days less the margins.
func TestTermHistoryPassesValidation(t *testing.T) {
	base := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, off := range []time.Duration{0, xsearch.EndLag - time.Second, xsearch.EndLag, xsearch.HistoryPeriod / 2, xsearch.HistoryPeriod - time.Second} {
		now := base.Add(off)
		for _, skew := range []time.Duration{0, xsearch.HistoryPeriod - xsearch.EndLag} {
			lim := backfill.Limits{Now: func() time.Time { return now.Add(skew) }}
			if _, err := backfill.ParseSpec(spec(now), lim); err != nil {
				t.Errorf("built at %s, validated %s later: %v", now.Format(time.TimeOnly), skew, err)
			}
		}
		start, end := xsearch.HistoryRange(now)
		if got := end.Sub(start); got < xsearch.Window-xsearch.WindowMargin-3*xsearch.HistoryPeriod {
			t.Errorf("built at %s: the range is %s, want about 7 days less %s", now, got, xsearch.WindowMargin+2*xsearch.HistoryPeriod)
		}
	}
	// The tightest moment: built 1 s before the end's period turns (now − 10 s just under
	// base), the range's start equals the Backfill function's earliest when its clock reads
	// base + xsearch.HistoryPeriod: accepted exactly there, refused one second past.
	now := base.Add(xsearch.EndLag - time.Second)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{base.Add(xsearch.HistoryPeriod), true}, {base.Add(xsearch.HistoryPeriod + time.Second), false}} {
		lim := backfill.Limits{Now: func() time.Time { return tc.at }}
		_, err := backfill.ParseSpec(spec(now), lim)
		if (err == nil) != tc.want || (err != nil && !strings.Contains(err.Error(), "x_search.start")) {
			t.Errorf("built at %s, validated at %s: %v, want accepted %v (else x_search.start refused)", now.Format(time.TimeOnly), tc.at.Format(time.TimeOnly), err, tc.want)
		}
	}
}
