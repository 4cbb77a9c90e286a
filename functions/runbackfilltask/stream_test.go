package runbackfilltask

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
)

// pagedAPI lists items {"id": N, "fetch": F} in pages of pageSize, ?page=1.., where F counts the
// listings of page 1: its item count can change between fetches, and a page can be made to fail.
type pagedAPI struct {
	items, pageSize atomic.Int64
	failPage        atomic.Int64 // answer 503 for this page; 0 for none
	fetches         atomic.Int64
	pad             string
}

func (a *pagedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page == 1 {
		a.fetches.Add(1)
	}
	if int64(page) == a.failPage.Load() {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	n, size := int(a.items.Load()), int(a.pageSize.Load())
	var items []map[string]any
	for i := (page - 1) * size; i < min(page*size, n); i++ {
		items = append(items, map[string]any{"id": i, "fetch": a.fetches.Load(), "pad": a.pad})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"items": items})
}

func (e *env) pagedJob(t *testing.T, api *httptest.Server) backfill.TaskSpec {
	t.Helper()
	p := e.newJob(t, `{"source":"http_json","http_json":{"url":"`+api.URL+`/items","records_path":"items",
		"pagination":{"type":"page","page_param":"page","max_pages":100000}}}`)
	return p.Task(0)
}

// A redelivered task whose second fetch returns fewer rows is never mixed with its first in the
// dedup view, and a third fetch cut short by a failing page does not show at all.
func TestDedupViewKeepsTheLatestCompleteFetch(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(fetchedAt)
	e := newEnv(t, withRowClock(func() time.Time { clk.Advance(time.Second); return clk.Now() }))
	api := &pagedAPI{}
	api.items.Store(10)
	api.pageSize.Store(3)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	task := e.pagedJob(t, srv)

	check := func(when string, wantRows int, wantFetch int64) {
		t.Helper()
		rows := e.rows(t, "backfill_rows_dedup")
		if len(rows) != wantRows {
			t.Errorf("%s: backfill_rows_dedup has %d rows, want %d", when, len(rows), wantRows)
		}
		for _, r := range rows {
			var rec struct{ Fetch int64 }
			json.Unmarshal([]byte(fmt.Sprint(r["record"])), &rec)
			if rec.Fetch != wantFetch {
				t.Errorf("%s: row %v is from fetch %d, want every row from fetch %d", when, r["row_index"], rec.Fetch, wantFetch)
			}
		}
	}
	if a := e.deliver(t, task, attemptOf{}); a.answer.Outcome != "succeeded" || a.answer.Rows != 10 {
		t.Fatalf("first delivery = %+v, want succeeded with 10 rows", a)
	}
	check("after the first fetch", 10, 1)
	api.items.Store(6)
	if a := e.deliver(t, task, attemptOf{}); a.answer.Outcome != "succeeded" || a.answer.Rows != 6 {
		t.Fatalf("second delivery = %+v, want succeeded with 6 rows", a)
	}
	check("after a second fetch of fewer rows", 6, 2)
	api.items.Store(9)
	api.failPage.Store(2)
	if a := e.deliver(t, task, attemptOf{}); a.status == http.StatusOK {
		t.Fatalf("third delivery with a failing page = %+v, want a retry", a)
	}
	check("after a third fetch cut short", 6, 2)
}

// A 100,000-row task streams: its rows reach BigQuery in appends under the request limit, and
// the worker's memory holds a page or two, not the task. The peak is logged for docs/performance.md.
func TestLargeTaskStreamsWithBoundedMemory(t *testing.T) {
	if os.Getenv("BACKFILL_LARGE_TASK") == "" {
		t.Skip("loads 100,000 rows (about a minute): set BACKFILL_LARGE_TASK=1 to run it")
	}
	e := newEnv(t)
	api := &pagedAPI{}
	api.items.Store(100_000)
	api.pageSize.Store(1_000)
	api.pad = fmt.Sprintf("%0900d", 0) // about 1 KB a row: 100 MB in all
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	task := e.pagedJob(t, srv)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	a := e.deliver(t, task, attemptOf{})
	close(stop)
	wg.Wait()
	if a.answer.Outcome != "succeeded" || a.answer.Rows != 100_000 {
		t.Fatalf("delivery = %+v, want succeeded with 100,000 rows", a)
	}
	growth := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("100,000 rows of about 1 KB (%d pages): peak heap in use %.1f MB, %.1f MB over the %.1f MB before",
		100, float64(peak.Load())/1e6, float64(growth)/1e6, float64(base.HeapInuse)/1e6)
	// The rows are 100 MB; a task held whole would need several times that.
	if growth > 80<<20 {
		t.Errorf("peak heap grew by %.1f MB while loading 100 MB of rows, want it bounded by a few pages", float64(growth)/1e6)
	}
	if n := len(e.rows(t, "backfill_rows_dedup")); n != 100_000 {
		t.Errorf("backfill_rows_dedup has %d rows, want 100,000", n)
	}
}
