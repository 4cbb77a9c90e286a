package backfill_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

// TestLargestTaskBytesIsTheLargest compares the planner's largest task with every task of a job
// whose values differ in length and in how they escape, in the path, the query and the shard.
func TestLargestTaskBytesIsTheLargest(t *testing.T) {
	spec := `{"source":"http_json","http_json":{"url":"https://api.example.com/{a}/items?b={b}&again={a}",
		"params":{"a":["x","a b/c","<&>","plain-long-value-without-escapes"],"b":["1","%%%","é&é","22"]}}}`
	s, err := backfill.ParseSpec([]byte(spec), backfill.Limits{MaxTasks: 100, Settings: testLimits.Settings})
	if err != nil {
		t.Fatalf("ParseSpec() = %v", err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for i := range p.Tasks {
		b, err := json.Marshal(p.Task(i))
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(b))
	}
	got, err := p.LargestTaskBytes()
	if err != nil || got != most {
		t.Errorf("largestTaskBytes() = %d, %v; want %d, the largest of the %d tasks", got, err, most, p.Tasks)
	}
}

// TestTaskBodyBound: a spec whose largest task is exactly MaxTaskBodyBytes is accepted, one
// byte more is refused with a 400 naming the source section (before the job could be created
// with tasks Cloud Tasks refuses).
func TestTaskBodyBound(t *testing.T) {
	specWith := func(pad int) string {
		return fmt.Sprintf(`{"source":"http_json","http_json":{"url":"https://api.example.com/items/{id}","headers":{"X-Note":%q},"params":{"id":["1","%s"]}}}`,
			strings.Repeat("a", pad), strings.Repeat("b", 500))
	}
	lim := backfill.Limits{MaxTasks: 100, Settings: testLimits.Settings}
	s, err := backfill.ParseSpec([]byte(specWith(0)), lim)
	if err != nil {
		t.Fatalf("ParseSpec(no padding) = %v", err)
	}
	p, _ := s.Plan()
	base, _ := p.LargestTaskBytes()
	atBound := backfill.MaxTaskBodyBytes - base
	if _, err := backfill.ParseSpec([]byte(specWith(atBound)), lim); err != nil {
		t.Errorf("ParseSpec(largest task exactly %d bytes) = %v, want accepted", backfill.MaxTaskBodyBytes, err)
	}
	_, err = backfill.ParseSpec([]byte(specWith(atBound+1)), lim)
	fe, ok := err.(*backfill.FieldError)
	if !ok || fe.Field != "http_json" || !strings.Contains(fe.Reason, fmt.Sprintf("largest task would be %d bytes, over the limit of %d", backfill.MaxTaskBodyBytes+1, backfill.MaxTaskBodyBytes)) {
		t.Errorf("ParseSpec(largest task %d bytes) = %v, want a field error on http_json naming the size and limit", backfill.MaxTaskBodyBytes+1, err)
	}
}
