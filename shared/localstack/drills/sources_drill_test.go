package drills

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// TestEverySourceHasAKit: a source registered in the backfill registry must come with a spec
// example that parses and plans, and a kit here (its fake API's spec and expected rows), which
// TestDrillSources runs end to end.
func TestEverySourceHasAKit(t *testing.T) {
	lim := backfill.Limits{Settings: httpjson.HostSettings("api.example.com")}
	for _, src := range backfill.Sources() {
		if _, ok := localstack.SourceKits[src.Name()]; !ok {
			t.Errorf("source %s is registered without a SourceKit (a fake API spec for the drills)", src.Name())
		}
		spec, err := backfill.ParseSpec(src.Example(), lim)
		if err != nil {
			t.Errorf("source %s: its Example does not parse: %v", src.Name(), err)
			continue
		}
		if p, err := spec.Plan(); err != nil || p.Tasks == 0 || p.Sample(1)[0].Shard == "" {
			t.Errorf("source %s: its Example plans %+v, %v; want tasks with shards", src.Name(), p, err)
		}
	}
	for name := range localstack.SourceKits {
		if _, ok := backfill.Lookup(name); !ok {
			t.Errorf("SourceKits has %s, which is not a registered source", name)
		}
	}
}

// TestDrillSources runs every registered source's kit job on one stack whose fake APIs answer
// 15% of requests 503 and 10% 429 with Retry-After 1s: each job ends done, with every expected
// key once in the dedup view, and ga4's quota figures in the job's status.
func TestDrillSources(t *testing.T) {
	faults := []sourcestest.Option{sourcestest.WithLatency(2 * time.Millisecond), sourcestest.WithFailRate(0.15), sourcestest.With429Rate(0.1, time.Second)}
	s := startDrillStack(t, &localstack.BackfillOptions{Queue: drillQueue(20), Fakes: map[string][]sourcestest.Option{"youtube_analytics": faults, "ga4": faults, "x_search": faults}})
	end := time.Now().UTC().AddDate(0, 0, -3)
	for _, src := range backfill.Sources() {
		kit, ok := localstack.SourceKits[src.Name()]
		if !ok {
			continue // TestEverySourceHasAKit says so
		}
		t.Run(src.Name(), func(t *testing.T) {
			c, err := s.StartBackfill(context.Background(), kit.Spec(s.Backfill, end))
			if err != nil {
				t.Fatalf("StartBackfill: %v", err)
			}
			st := waitBackfill(t, s, c.JobID)
			if st.State != backfill.JobDone {
				t.Errorf("job ended %s (%+v), want %s", st.State, st.Failures, backfill.JobDone)
			}
			checkInvariants(t, s, c.JobID, kit.Rows, nil)
			if src.Name() == "ga4" {
				if st.Quota == nil || len(st.Quota.Quota.Figures) == 0 || st.Quota.Quota.Figures[0].Consumed == 0 || st.Quota.Quota.Figures[0].Remaining <= 0 {
					t.Errorf("ga4 job status quota = %+v, want the last task's propertyQuota", st.Quota)
				}
				api := s.Backfill.Fake("ga4").(*ga4fake.GA4Server).Stats()
				if api.ByStatus[http.StatusServiceUnavailable] == 0 || api.ByStatus[http.StatusTooManyRequests] == 0 {
					t.Errorf("the GA4 API answered %v: want some 503s and some 429s", api.ByStatus)
				}
				if st.Counts.APICalls != api.Calls {
					t.Errorf("job counts %d API calls, the GA4 API served %d", st.Counts.APICalls, api.Calls)
				}
				t.Logf("GA4 API: %d calls %v, %d rows served; quota %+v", api.Calls, api.ByStatus, api.RowsServed, st.Quota)
			}
		})
	}
}
