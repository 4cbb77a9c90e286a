package backfill_test

import (
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

// FuzzParseSpec feeds POST /backfills bodies to the spec parser: it never panics, refuses with a
// *FieldError or an error, and a spec it accepts plans, and parses again from its own JSON to
// the same job.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(ytBody))
	f.Add([]byte(httpBody))
	f.Add([]byte(`{"source":"http_json","http_json":{"url":"https://api.example.com/x","secrets":[{"header":"Authorization","prefix":"Bearer ","secret":"projects/p/secrets/s"}]}}`))
	f.Add([]byte(`{"source":"http_json","http_json":{"url":"https://api.example.com/x?appid=1"}}`))
	f.Add([]byte(`{"source":"youtube_analytics","youtube_analytics":{"channel":"MINE","metrics":["views"],"start":"2025-01-01","end":"2025-12-31","chunk":"range"}}`))
	f.Add([]byte(`{"source":"nope"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := testLimits
		lim.MaxTasks = 10_000
		spec, err := backfill.ParseSpec(body, lim)
		if err != nil {
			return
		}
		plan, err := spec.Plan()
		if err != nil {
			t.Fatalf("ParseSpec accepted %s but Plan() = %v", body, err)
		}
		if plan.Tasks > 0 {
			_ = plan.Task(0)
			_ = plan.Task(plan.Tasks - 1)
		}
		again, err := backfill.ParseSpec(spec.JSON(), lim)
		if err != nil {
			t.Fatalf("ParseSpec(its own JSON %s) = %v", spec.JSON(), err)
		}
		if a, b := again.ID(), spec.ID(); a != b {
			t.Errorf("the spec's own JSON parses to job %s, not %s", a, b)
		}
	})
}
