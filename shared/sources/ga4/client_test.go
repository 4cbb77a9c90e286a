package ga4_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// newGA4 starts a fake GA4 API and a client pointed at it, authorized by a static token.
func newGA4(t *testing.T, opts ...sourcestest.Option) (*ga4fake.GA4Server, *ga4.GA4) {
	t.Helper()
	srv := ga4fake.NewGA4Server(opts...)
	t.Cleanup(srv.Close)
	g, err := ga4.NewGA4(context.Background(), ga4.GA4Config{
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.test"}),
		BaseURL:     srv.URL(),
		HTTPTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewGA4() error = %v", err)
	}
	return srv, g
}

func ga4Query(limit int) ga4.GA4Query {
	return ga4.GA4Query{Property: "properties/" + ga4fake.GA4DefaultPropertyID, StartDate: "2024-01-01", EndDate: "2024-01-10",
		Dimensions: []string{"date", "deviceCategory"}, Metrics: []string{"activeUsers", "engagementRate"}, Limit: limit}
}

// TestGA4ReportPages reads a 30-row report 7 rows at a time: 5 requests at offsets 0..28, every
// row once, in order, typed, and the quota summed over the pages.
func TestGA4ReportPages(t *testing.T) {
	srv, g := newGA4(t)
	res, err := g.Report(context.Background(), ga4Query(7))
	if err != nil {
		t.Fatalf("Report() error = %v", err)
	}
	if diff := cmp.Diff([]int{5, 5, 30}, []int{res.APICalls, len(res.Pages), len(res.Records)}); diff != "" {
		t.Errorf("calls, pages, records (-want +got):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, r := range res.Records {
		k := r["date"].(string) + "/" + r["deviceCategory"].(string)
		if seen[k] {
			t.Errorf("row %s twice", k)
		}
		seen[k] = true
		if _, ok := r["activeUsers"].(int64); !ok {
			t.Errorf("activeUsers = %T, want int64", r["activeUsers"])
		}
		if _, ok := r["engagementRate"].(float64); !ok {
			t.Errorf("engagementRate = %T, want float64", r["engagementRate"])
		}
		if r["sampled"] != false || r["other_row"] != false {
			t.Errorf("flags of %s = %v %v, want false false", k, r["sampled"], r["other_row"])
		}
	}
	want := res.Records[0]["activeUsers"]
	if got := ga4fake.GA4Value("activeUsers", "TYPE_INTEGER", []string{"20240101", "desktop"}); got != "" && want != mustInt(t, got) {
		t.Errorf("first row activeUsers = %v, want %s", want, got)
	}
	if res.Quota == nil || res.Quota.Figures[0] != (sources.NamedFigure{Name: "tokens_per_hour", Consumed: 5, Remaining: ga4fake.GA4TokensPerHour - 5}) {
		t.Errorf("Quota = %+v, want 5 tokens per hour consumed, %d remaining", res.Quota, ga4fake.GA4TokensPerHour-5)
	}
	if st := srv.Stats(); st.Calls != 5 || st.RowsServed != 30 {
		t.Errorf("server saw %d calls, %d rows; want 5, 30", st.Calls, st.RowsServed)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestGA4Flags: a sampled report flags every row sampled, and "(other)" rows are flagged.
func TestGA4Flags(t *testing.T) {
	_, g := newGA4(t, ga4fake.WithGA4SamplingOver(5), ga4fake.WithGA4OtherRow())
	res, err := g.Report(context.Background(), ga4Query(0))
	if err != nil {
		t.Fatalf("Report() error = %v", err)
	}
	others := 0
	for _, r := range res.Records {
		if r["sampled"] != true {
			t.Errorf("row %v not flagged sampled", r)
		}
		if r["other_row"] == true {
			others++
			if r["deviceCategory"] != ga4.GA4OtherValue {
				t.Errorf("row %v flagged other_row without (other)", r)
			}
		}
	}
	if others != 10 {
		t.Errorf("other rows = %d, want 10 (one per day)", others)
	}
}

// TestGA4Errors: 503 and 429 are transient (429 waits for the hourly window when the API gives no
// Retry-After), an unknown metric is permanent with the API's message.
func TestGA4Errors(t *testing.T) {
	srv, g := newGA4(t)
	srv.FailNext(1, http.StatusServiceUnavailable)
	_, err := g.Report(context.Background(), ga4Query(0))
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Status != 503 || se.APICalls != 1 {
		t.Errorf("503: err = %v, want transient 503 after 1 call", err)
	}
	srv.FailNext(1, http.StatusTooManyRequests)
	_, err = g.Report(context.Background(), ga4Query(0))
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Status != 429 || se.RetryAfter <= 0 || se.RetryAfter > time.Hour+time.Second {
		t.Errorf("429: err = %v, want transient 429 waiting until the next hour", err)
	}
	q := ga4Query(0)
	q.Metrics = []string{"nope"}
	_, err = g.Report(context.Background(), q)
	if !errors.As(err, &se) || se.Kind != sources.Permanent || se.Status != 400 {
		t.Errorf("unknown metric: err = %v, want permanent 400", err)
	}
}

// TestGA4TokensPerHour: a property out of hourly tokens answers 429 without Retry-After; the
// client waits until the hour turns.
func TestGA4TokensPerHour(t *testing.T) {
	_, g := newGA4(t, ga4fake.WithGA4TokensPerHour(2))
	if _, err := g.Report(context.Background(), ga4Query(10)); err == nil || sources.KindOf(err) != sources.Transient {
		t.Errorf("Report() over the hourly tokens: err = %v, want transient", err)
	}
}

func TestGA4QuotaWait(t *testing.T) {
	now := time.Date(2024, 3, 1, 10, 45, 0, 0, time.UTC)
	for _, tc := range []struct {
		msg  string
		want time.Duration
	}{
		{"Exhausted property tokens per hour.", 15*time.Minute + time.Second},
		{"Exhausted property tokens per day.", 21*time.Hour + 15*time.Minute + time.Second}, // 02:45 PST to midnight PST,
		{"Exhausted concurrent requests.", 0},
	} {
		if got := ga4.GA4QuotaWait(tc.msg, now); got != tc.want {
			t.Errorf("GA4QuotaWait(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
