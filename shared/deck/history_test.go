package deck

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
)

// fakeBackfill is the Backfill function's POST /backfills, GET /backfills and GET
// /backfills/{id} over the real spec parser (backfill.ParseSpec: the x_search validation and
// the job id from the spec's hash), on a settable clock.
type fakeBackfill struct {
	mu    sync.Mutex
	now   time.Time            // seeds' clock
	clock *time.Time           // the parser's clock: the deck's, so a test moves both
	jobs  map[string]time.Time // id -> created
	src   map[string]string    // id -> source
	posts int                  // POSTs that were not dry runs
	bad   []string             // specs the parser refused
}

func newFakeBackfill(now time.Time) *fakeBackfill {
	return &fakeBackfill{now: now, clock: &now, jobs: map[string]time.Time{}, src: map[string]string{}}
}

// seed adds n jobs of source created at ago before now.
func (f *fakeBackfill) seed(source string, ago time.Duration, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("bf-seed-%s-%d-%d", source, ago, i)
		f.jobs[id], f.src[id] = f.now.Add(-ago), source
	}
}

func (f *fakeBackfill) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/backfills":
		b, _ := io.ReadAll(r.Body)
		spec, err := backfill.ParseSpec(b, backfill.Limits{Now: func() time.Time { return *f.clock }})
		if err != nil {
			f.bad = append(f.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		plan, _ := spec.Plan()
		id := spec.ID()
		if spec.DryRun {
			json.NewEncoder(w).Encode(map[string]any{"job_id": id, "dry_run": true, "tasks": plan.Tasks})
			return
		}
		f.posts++
		_, exists := f.jobs[id]
		if !exists {
			f.jobs[id], f.src[id] = *f.clock, spec.Source
			w.WriteHeader(http.StatusAccepted)
		}
		json.NewEncoder(w).Encode(map[string]any{"job_id": id, "created": !exists, "planned_tasks": plan.Tasks, "state": "running"})
	case r.Method == http.MethodGet && r.URL.Path == "/backfills":
		type job struct {
			JobID     string    `json:"job_id"`
			Source    string    `json:"source"`
			CreatedAt time.Time `json:"created_at"`
		}
		var list []job
		for id, at := range f.jobs {
			list = append(list, job{id, f.src[id], at})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.After(list[j].CreatedAt) })
		json.NewEncoder(w).Encode(map[string]any{"jobs": list})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/backfills/"):
		id := strings.TrimPrefix(r.URL.Path, "/backfills/")
		if _, ok := f.jobs[id]; !ok {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": "no such job"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"job_id": id, "state": "running"})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func historyDeck(t testing.TB, f *fakeBackfill, now *time.Time) http.Handler {
	t.Helper()
	f.clock = now
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	h, err := New(Config{DefaultKeyword: "gcp", BackfillURL: srv.URL, Now: func() time.Time { return *now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func postHistory(t testing.TB, h http.Handler, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/deck/history", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// TestHistoryTermBounds: the term is one keyword or #hashtag of at most MaxQueryLen bytes; a
// bad one is a 400 naming q, and nothing reaches the Backfill function.
func TestHistoryTermBounds(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 3, 0, 0, time.UTC)
	f := newFakeBackfill(now)
	h := historyDeck(t, f, &now)
	tests := []struct {
		name, body string
		want       int
		param      string
	}{
		{"a keyword", `{"q":"Dataflow"}`, http.StatusAccepted, ""},
		{"a hashtag", `{"q":"#GCP"}`, http.StatusAccepted, ""},
		{"Korean", `{"q":"클라우드"}`, http.StatusAccepted, ""},
		{"exactly 100 bytes", `{"q":"` + strings.Repeat("a", MaxQueryLen) + `"}`, http.StatusAccepted, ""},
		{"101 bytes", `{"q":"` + strings.Repeat("a", MaxQueryLen+1) + `"}`, http.StatusBadRequest, "q"},
		{"empty", `{"q":"  "}`, http.StatusBadRequest, "q"},
		{"a bare #", `{"q":"#"}`, http.StatusBadRequest, "q"},
		{"two words", `{"q":"cloud run"}`, http.StatusBadRequest, "q"},
		{"an X operator", `{"q":"from:jack"}`, http.StatusBadRequest, "q"},
		{"a negation", `{"q":"-gcp"}`, http.StatusBadRequest, "q"},
		{"a phrase", `{"q":"\"cloud run\""}`, http.StatusBadRequest, "q"},
		{"a spec instead of a term", `{"source":"x_search"}`, http.StatusBadRequest, "body"},
		{"not JSON", `q=gcp`, http.StatusBadRequest, "body"},
		{"body at its bound", `{"q":"gcp"}` + strings.Repeat(" ", MaxHistoryBodyBytes-len(`{"q":"gcp"}`)), http.StatusAccepted, ""},
		{"body one past", `{"q":"gcp"}` + strings.Repeat(" ", MaxHistoryBodyBytes-len(`{"q":"gcp"}`)+1), http.StatusBadRequest, "body"},
	}
	for _, tt := range tests {
		code, out := postHistory(t, h, tt.body)
		if code == http.StatusOK && tt.want == http.StatusAccepted {
			code = tt.want // the same term again: the existing job
		}
		if code != tt.want || (tt.param != "" && out["param"] != tt.param) {
			t.Errorf("%s: POST deck/history %s = %d %v, want %d naming %q", tt.name, tt.body, code, out, tt.want, tt.param)
		}
	}
	if len(f.bad) > 0 {
		t.Errorf("the Backfill function refused specs the deck built: %q", f.bad)
	}
}

// TestHistoryStartsOnceAPeriod: the same term started twice (double click, two tabs), in any
// case, within a period is one job; the next period's start is another.
func TestHistoryStartsOnceAPeriod(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 20, 0, time.UTC)
	f := newFakeBackfill(now)
	h := historyDeck(t, f, &now)
	code1, first := postHistory(t, h, `{"q":"#Dataflow"}`)
	now = now.Add(xsearch.HistoryPeriod - 11*time.Second)
	code2, again := postHistory(t, h, `{"q":"#dataflow"}`)
	if code1 != http.StatusAccepted || code2 != http.StatusOK {
		t.Fatalf("two starts answered %d then %d, want 202 then 200", code1, code2)
	}
	if diff := cmp.Diff(first["job_id"], again["job_id"]); diff != "" || again["created"] != false {
		t.Errorf("the second start named another job (-first +second):\n%s created=%v", diff, again["created"])
	}
	if len(f.jobs) != 1 {
		t.Errorf("the Backfill function holds %d jobs, want 1", len(f.jobs))
	}
	now = now.Add(time.Second + time.Second) // into the next period
	if code, next := postHistory(t, h, `{"q":"#dataflow"}`); code != http.StatusAccepted || next["job_id"] == first["job_id"] {
		t.Errorf("the next period's start = %d %v, want a new job", code, next)
	}
	if first["term"] != "#dataflow" || first["planned_tasks"] != float64(28) {
		t.Errorf("first start = %v, want term #dataflow and 28 tasks of 6 hours", first)
	}
}

// TestHistoryJobsPerDayBound: with MaxHistoryJobsPerDay − 1 x_search jobs in the last 24 hours
// a new one starts; at MaxHistoryJobsPerDay it is a 429 naming the bound, while a start of an
// existing job still answers it; jobs of other sources and older ones do not count.
func TestHistoryJobsPerDayBound(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 20, 0, time.UTC)
	f := newFakeBackfill(now)
	h := historyDeck(t, f, &now)
	f.seed("x_search", time.Hour, MaxHistoryJobsPerDay-2)
	f.seed("ga4", time.Minute, 30)
	f.seed("x_search", historyDay, 5) // exactly a day ago: outside the window
	if code, out := postHistory(t, h, `{"q":"first"}`); code != http.StatusAccepted {
		t.Fatalf("start at %d of %d jobs = %d %v, want 202", MaxHistoryJobsPerDay-2, MaxHistoryJobsPerDay, code, out)
	}
	if code, out := postHistory(t, h, `{"q":"last"}`); code != http.StatusAccepted {
		t.Fatalf("start at %d of %d jobs = %d %v, want 202", MaxHistoryJobsPerDay-1, MaxHistoryJobsPerDay, code, out)
	}
	code, out := postHistory(t, h, `{"q":"onepast"}`)
	if code != http.StatusTooManyRequests || !strings.Contains(fmt.Sprint(out["error"]), "MaxHistoryJobsPerDay 20") {
		t.Errorf("start past the bound = %d %v, want 429 naming MaxHistoryJobsPerDay 20", code, out)
	}
	if code, _ := postHistory(t, h, `{"q":"last"}`); code != http.StatusOK {
		t.Errorf("an existing job's start past the bound = %d, want 200 (nothing new)", code)
	}
}

// TestHistoryNeedsBackfill: without a Backfill function there is no history (404); GET is 405.
func TestHistoryNeedsBackfill(t *testing.T) {
	h, err := New(Config{DefaultKeyword: "gcp"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := postHistory(t, h, `{"q":"gcp"}`); code != http.StatusNotFound {
		t.Errorf("POST without BackfillURL = %d, want 404", code)
	}
	now := time.Now()
	hd := historyDeck(t, newFakeBackfill(now), &now)
	if r := get(t, hd, http.MethodGet, "/deck/history", nil); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET deck/history = %d Allow %q, want 405 POST", r.StatusCode, r.Header.Get("Allow"))
	}
}

// FuzzHistoryBody: whatever the body, POST deck/history answers 202/200 (a term that is one
// keyword or #hashtag of at most MaxQueryLen bytes, whose spec the real parser accepted) or a
// 400 naming q or body; never a 5xx, and never a spec the Backfill function refused.
func FuzzHistoryBody(f *testing.F) {
	for _, s := range []string{`{"q":"gcp"}`, `{"q":"#GCP"}`, `{"q":"클라우드"}`, `{"q":"a b"}`, `{"q":""}`, `{}`, `[]`, `{"q":"gcp","x":1}`,
		`{"q":"\u0000"}`, `{"q":"#"}`, `{"q":"from:x"}`, `null`, `{"q":"` + strings.Repeat("é", 60) + `"}`} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 12, 3, 0, 0, time.UTC)
	fb := newFakeBackfill(now)
	h := historyDeck(f, fb, &now)
	f.Fuzz(func(t *testing.T, body string) {
		fb.mu.Lock()
		clear(fb.jobs) // each body alone: the daily bound is TestHistoryJobsPerDayBound's
		fb.mu.Unlock()
		code, out := postHistory(t, h, body)
		switch code {
		case http.StatusAccepted, http.StatusOK:
			term, _ := out["term"].(string)
			if len(term) > MaxQueryLen || !historyTerm.MatchString(term) || term != strings.ToLower(term) {
				t.Errorf("body %q started the history of %q", body, term)
			}
		case http.StatusBadRequest:
			if p := out["param"]; p != "q" && p != "body" {
				t.Errorf("body %q: 400 naming %v, want q or body", body, p)
			}
		default:
			t.Errorf("body %q: %d %v", body, code, out)
		}
		fb.mu.Lock()
		defer fb.mu.Unlock()
		if len(fb.bad) > 0 {
			t.Errorf("the Backfill function refused the spec built from %q: %q", body, fb.bad)
		}
	})
}
