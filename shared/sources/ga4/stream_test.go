package ga4_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
)

// collected is what a GA4Sink received.
type collected struct {
	records []map[string]any
	firsts  []int
	pages   [][]byte
	cur     bytes.Buffer
	batches int
	biggest int
}

func (c *collected) sink() ga4.GA4Sink {
	return ga4.GA4Sink{
		Records: func(first int, recs []map[string]any) error {
			c.firsts = append(c.firsts, first)
			c.records = append(c.records, recs...)
			c.batches++
			c.biggest = max(c.biggest, len(recs))
			return nil
		},
		Body:    func(p []byte) error { c.cur.Write(p); return nil },
		EndPage: func() error { c.pages = append(c.pages, bytes.Clone(c.cur.Bytes())); c.cur.Reset(); return nil },
	}
}

// A streamed report is the buffered one: the same records in the same order, the same bodies
// byte for byte, the same calls and quota; rowCount and propertyQuota arrive after the rows.
func TestGA4StreamMatchesReport(t *testing.T) {
	_, g := newGA4(t)
	want, err := g.Report(context.Background(), ga4Query(7))
	if err != nil {
		t.Fatalf("Report() error = %v", err)
	}
	_, g2 := newGA4(t)
	var c collected
	sum, err := g2.Stream(context.Background(), ga4Query(7), false, c.sink())
	if err != nil {
		t.Fatalf("Stream() error = %v", err)
	}
	if diff := cmp.Diff(want.Records, c.records); diff != "" {
		t.Errorf("records (-Report +Stream):\n%s", diff)
	}
	if diff := cmp.Diff(want.Pages, c.pages); diff != "" {
		t.Errorf("raw pages (-Report +Stream):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 7, 14, 21, 28}, c.firsts); diff != "" {
		t.Errorf("first index of each batch (-want +got):\n%s", diff)
	}
	got := ga4.GA4Summary{APICalls: want.APICalls, Pages: len(want.Pages), Rows: len(want.Records)}
	if diff := cmp.Diff(want.Quota, sum.Quota.Report()); diff != "" {
		t.Errorf("quota (-Report +Stream):\n%s", diff)
	}
	sum.Quota = nil
	if diff := cmp.Diff(got, sum); diff != "" {
		t.Errorf("summary (-Report +Stream):\n%s", diff)
	}
}

// Each request asks for at most GA4PageRows rows, whatever the query's limit (up to the API's
// 250,000): at the cap, one past it and at the API's maximum.
func TestGA4StreamCapsRowsPerRequest(t *testing.T) {
	for _, tc := range []struct {
		limit int
		want  int64
	}{
		{0, ga4.GA4DefaultLimit},
		{7, 7},
		{ga4.GA4PageRows, ga4.GA4PageRows},
		{ga4.GA4PageRows + 1, ga4.GA4PageRows},
		{ga4.GA4MaxLimit, ga4.GA4PageRows},
	} {
		srv, g := newGA4(t)
		var c collected
		if _, err := g.Stream(context.Background(), ga4Query(tc.limit), false, c.sink()); err != nil {
			t.Fatalf("Stream(limit %d) error = %v", tc.limit, err)
		}
		if got := srv.Stats().Limits; len(got) == 0 || got[0] != tc.want {
			t.Errorf("Stream(limit %d) asked for limits %v, want %d", tc.limit, got, tc.want)
		}
	}
}

// A report bigger than one page at the API's largest limit is read in pages of GA4PageRows,
// every row once, handed on in batches of at most GA4BatchRows.
func TestGA4StreamPagesAtTheCap(t *testing.T) {
	srv, g := newGA4(t)
	q := ga4.GA4Query{Property: "properties/" + ga4fake.GA4DefaultPropertyID, StartDate: "2024-01-01", EndDate: "2024-03-10",
		Dimensions: []string{"date", "country", "deviceCategory", "sessionDefaultChannelGroup", "pagePath", "browser"},
		Metrics:    []string{"activeUsers"}, Limit: ga4.GA4MaxLimit}
	var c collected
	sum, err := g.Stream(context.Background(), q, false, c.sink())
	if err != nil {
		t.Fatalf("Stream() error = %v", err)
	}
	const rows = 70 * 5 * 3 * 3 * 4 * 4 // days x dimension values
	if diff := cmp.Diff([]int64{ga4.GA4PageRows, ga4.GA4PageRows}, srv.Stats().Limits); diff != "" {
		t.Errorf("limits asked (-want +got):\n%s", diff)
	}
	if sum.Rows != rows || len(c.records) != rows || sum.Pages != 2 {
		t.Errorf("Stream() read %d rows (%d handed on) in %d pages, want %d in 2", sum.Rows, len(c.records), sum.Pages, rows)
	}
	if c.biggest > ga4.GA4BatchRows {
		t.Errorf("largest batch = %d records, want at most %d", c.biggest, ga4.GA4BatchRows)
	}
}

// Rows reach the sink while the API is still sending the page: the fake holds the body open
// after 700 of its 1,050 rows, and is released only once a batch has arrived. (The guard
// below only turns a hang into a failure; nothing is timed.)
func TestGA4StreamHandsRowsOnBeforeTheBodyEnds(t *testing.T) {
	hold := ga4fake.NewGA4Hold(700)
	_, g := newGA4(t, ga4fake.WithGA4Hold(hold))
	q := ga4.GA4Query{Property: "properties/" + ga4fake.GA4DefaultPropertyID, StartDate: "2024-01-01", EndDate: "2024-03-10",
		Dimensions: []string{"date", "country", "deviceCategory"}, Metrics: []string{"activeUsers"}, Limit: 3000}
	first := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		_, err := g.Stream(context.Background(), q, false, ga4.GA4Sink{Records: func(_ int, recs []map[string]any) error {
			select {
			case first <- len(recs):
			default:
			}
			return nil
		}})
		done <- err
	}()
	select {
	case <-hold.Reached:
	case err := <-done:
		t.Fatalf("Stream() = %v before the fake held its body", err)
	}
	select {
	case n := <-first:
		if n > ga4.GA4BatchRows {
			t.Errorf("first batch = %d records, want at most %d", n, ga4.GA4BatchRows)
		}
	case err := <-done:
		t.Fatalf("Stream() returned %v while the body was held open, before any record reached the sink", err)
	case <-time.After(time.Minute):
		t.Fatal("no record reached the sink while the body was held open after 700 rows")
	}
	close(hold.Release)
	if err := <-done; err != nil {
		t.Errorf("Stream() error = %v", err)
	}
}

// Sampling metadata follows the rows: rows handed on as unsampled end the stream with
// samplingChanged once the page says it is sampled; streamed again as sampled, they carry it.
func TestGA4StreamSamplingAfterRows(t *testing.T) {
	_, g := newGA4(t, ga4fake.WithGA4SamplingOver(3))
	var c collected
	_, err := g.Stream(context.Background(), ga4Query(0), false, c.sink())
	var se *sources.Error
	var sampling *ga4.GA4SamplingError
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Reason != "samplingChanged" || !errors.As(err, &sampling) || !sampling.Sampled {
		t.Fatalf("Stream(sampled=false) of a sampled report = %v, want Transient samplingChanged saying sampled", err)
	}
	c = collected{}
	if _, err := g.Stream(context.Background(), ga4Query(0), true, c.sink()); err != nil {
		t.Fatalf("Stream(sampled=true) error = %v", err)
	}
	for i, r := range c.records {
		if r["sampled"] != true {
			t.Errorf("record %d sampled = %v, want true", i, r["sampled"])
		}
	}
}

// A body cut short on the wire is a Transient network failure, as a failed read was before.
func TestGA4StreamTruncatedBodyIsTransient(t *testing.T) {
	_, g := newGA4(t, ga4fake.WithGA4TruncateAfter(5))
	var c collected
	_, err := g.Stream(context.Background(), ga4Query(0), false, c.sink())
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Reason != "network" || se.APICalls != 1 {
		t.Errorf("Stream() of a cut body = %#v, want Transient network after 1 call", err)
	}
}

// Errors before the body keep their classification: a 503 is Transient with its status.
func TestGA4StreamErrorStatus(t *testing.T) {
	srv, g := newGA4(t)
	srv.FailNext(1, http.StatusServiceUnavailable)
	var c collected
	_, err := g.Stream(context.Background(), ga4Query(0), false, c.sink())
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Status != http.StatusServiceUnavailable || se.APICalls != 1 {
		t.Errorf("Stream() after a 503 = %#v, want Transient 503 after 1 call", err)
	}
}
