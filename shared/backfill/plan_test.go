package backfill_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

func ytSpec(t *testing.T, videos int, start, end, chunk string, dims ...string) *backfill.Spec {
	t.Helper()
	ids := make([]string, videos)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprintf("v%03d", i))
	}
	d, _ := json.Marshal(dims)
	body := fmt.Sprintf(`{"source":"youtube_analytics","youtube_analytics":{"video_ids":[%s],"metrics":["views"],"dimensions":%s,"start":%q,"end":%q,"chunk":%q}}`,
		strings.Join(ids, ","), d, start, end, chunk)
	return mustParse(t, body)
}

func TestPlanCounts(t *testing.T) {
	tests := []struct {
		name      string
		spec      *backfill.Spec
		wantTasks int
		wantFirst []backfill.Period // the first chunks
		wantLast  backfill.Period
	}{
		{"200 videos x 730 days", ytSpec(t, 200, "2024-01-01", "2025-12-30", "day"), 146_000,
			[]backfill.Period{{"2024-01-01", "2024-01-01"}, {"2024-01-02", "2024-01-02"}}, backfill.Period{"2025-12-30", "2025-12-30"}},
		// 2024-01-03 is a Wednesday: the first week is clipped to Wed..Sun.
		{"weeks", ytSpec(t, 1, "2024-01-03", "2024-01-31", "week"), 5,
			[]backfill.Period{{"2024-01-03", "2024-01-07"}, {"2024-01-08", "2024-01-14"}}, backfill.Period{"2024-01-29", "2024-01-31"}},
		{"months", ytSpec(t, 2, "2024-01-15", "2024-04-10", "month"), 8,
			[]backfill.Period{{"2024-01-15", "2024-01-31"}, {"2024-02-01", "2024-02-29"}}, backfill.Period{"2024-04-01", "2024-04-10"}},
		{"range in one query", ytSpec(t, 3, "2024-01-01", "2025-12-30", "range"), 3,
			[]backfill.Period{{"2024-01-01", "2025-12-30"}}, backfill.Period{"2024-01-01", "2025-12-30"}},
		// 730 days x ~250 countries = 182,500 rows: 19 queries of at most 39 days (9,750 rows).
		{"range split by rows", ytSpec(t, 2, "2024-01-01", "2025-12-30", "range", "day", "country"), 38,
			[]backfill.Period{{"2024-01-01", "2024-02-08"}}, backfill.Period{"2025-12-03", "2025-12-30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.spec.Plan()
			if err != nil {
				t.Fatalf("Plan() = %v", err)
			}
			if p.Tasks != tt.wantTasks || p.APICalls != tt.wantTasks {
				t.Errorf("Plan().Tasks, APICalls = %d, %d, want %d", p.Tasks, p.APICalls, tt.wantTasks)
			}
			if diff := cmp.Diff(tt.wantFirst, p.Chunks[:len(tt.wantFirst)]); diff != "" {
				t.Errorf("Plan().Chunks start mismatch (-want +got):\n%s", diff)
			}
			if got := p.Chunks[len(p.Chunks)-1]; got != tt.wantLast {
				t.Errorf("last chunk = %v, want %v", got, tt.wantLast)
			}
			// Chunks tile the range: each starts the day after the previous ends.
			for i := 1; i < len(p.Chunks); i++ {
				prev, _ := backfill.ParseDate(p.Chunks[i-1].End)
				cur, _ := backfill.ParseDate(p.Chunks[i].Start)
				if cur.Sub(prev).Hours() != 24 {
					t.Errorf("chunk %d starts %s after chunk %d ends %s, want the next day", i, p.Chunks[i].Start, i-1, p.Chunks[i-1].End)
				}
			}
		})
	}
}

func TestYouTubeTasks(t *testing.T) {
	p, err := ytSpec(t, 200, "2024-01-01", "2025-12-30", "day").Plan()
	if err != nil {
		t.Fatal(err)
	}
	got := p.Task(731) // video 1, day 1
	want := withRequest(backfill.TaskSpec{JobID: p.JobID, Shard: "video=v001/2024-01-02..2024-01-02", Index: 731, Source: "youtube_analytics"},
		&youtube.YouTubeQuery{IDs: "channel==MINE", StartDate: "2024-01-02", EndDate: "2024-01-02",
			Metrics: []string{"views"}, Dimensions: []string{"day"}, Filters: "video==v001", Sort: "day"})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Task(731) mismatch (-want +got):\n%s", diff)
	}
	// Deterministic: the same index from a plan of the same spec, re-read from its JSON, is the same task.
	var again backfill.Spec
	if err := json.Unmarshal(p.Spec().JSON(), &again); err != nil {
		t.Fatal(err)
	}
	p2, err := again.Plan()
	if err != nil {
		t.Fatal(err)
	}
	shards := map[string]bool{}
	for _, i := range []int{0, 1, 729, 730, 73_000, 145_999} {
		if diff := cmp.Diff(p.Task(i), p2.Task(i)); diff != "" {
			t.Errorf("Task(%d) differs between plans of one spec (-first +second):\n%s", i, diff)
		}
		shards[p.Task(i).Shard] = true
	}
	if len(shards) != 6 {
		t.Errorf("shards of 6 tasks = %v, want 6 distinct", shards)
	}
	if got := p.Task(145_999).Shard; got != "video=v199/2025-12-30..2025-12-30" {
		t.Errorf("Task(145999).Shard = %q, want video=v199/2025-12-30..2025-12-30", got)
	}

	ch := mustParse(t, `{"source":"youtube_analytics","youtube_analytics":{"channel":"MINE","metrics":["views"],"start":"2025-01-01","end":"2025-03-31","chunk":"month"}}`)
	cp, err := ch.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if cp.Tasks != 3 {
		t.Errorf("channel month plan Tasks = %d, want 3", cp.Tasks)
	}
	ct := cp.Task(1)
	if ct.Shard != "channel=MINE/2025-02-01..2025-02-28" || ytReq(ct).IDs != "channel==MINE" || ytReq(ct).Filters != "" {
		t.Errorf("channel Task(1) = %+v %+v, want shard channel=MINE/2025-02-01..2025-02-28, ids channel==MINE, no filter", ct, ytReq(ct))
	}
}

func TestHTTPJSONTasks(t *testing.T) {
	s := mustParse(t, `{"source":"http_json","http_json":{"url":"https://api.example.com/items/{id}?lang={lang}","params":{"id":["a/b","2"],"lang":["en","de&x"]},"pagination":{"type":"page","page_param":"page"},"headers":{"accept":"application/json"}}}`)
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Tasks != 4 {
		t.Fatalf("Tasks = %d, want 4", p.Tasks)
	}
	var got []string
	for _, task := range p.Sample(10) {
		got = append(got, task.Shard+" "+hjReq(task).URL)
	}
	// ids sorted: 2, a/b; langs sorted: de&x, en; the last name varies fastest.
	want := []string{
		"id=2&lang=de%26x https://api.example.com/items/2?lang=de%26x",
		"id=2&lang=en https://api.example.com/items/2?lang=en",
		"id=a%2Fb&lang=de%26x https://api.example.com/items/a%2Fb?lang=de%26x",
		"id=a%2Fb&lang=en https://api.example.com/items/a%2Fb?lang=en",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sample(10) mismatch (-want +got):\n%s", diff)
	}
	task := p.Task(0)
	wantReq := &httpjson.HTTPJSONRequest{URL: "https://api.example.com/items/2?lang=de%26x",
		Headers:    map[string]string{"Accept": "application/json"},
		Pagination: httpjson.Pagination{Type: "page", PageParam: "page", StartPage: 1}}
	if diff := cmp.Diff(wantReq, hjReq(task)); diff != "" {
		t.Errorf("Task(0).HTTPJSON mismatch (-want +got):\n%s", diff)
	}
	// The task is the Cloud Task body: it survives JSON.
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	var back backfill.TaskSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(task, back); diff != "" {
		t.Errorf("TaskSpec JSON round trip mismatch (-before +after):\n%s", diff)
	}
}

func TestSplitAndTaskBounds(t *testing.T) {
	p, err := ytSpec(t, 1, "2025-01-01", "2025-01-10", "day").Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := []backfill.Range{{0, 4}, {4, 8}, {8, 10}}
	if diff := cmp.Diff(want, p.Split(4)); diff != "" {
		t.Errorf("Split(4) mismatch (-want +got):\n%s", diff)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Task(10) of 10 tasks did not panic")
		}
	}()
	p.Task(10)
}
