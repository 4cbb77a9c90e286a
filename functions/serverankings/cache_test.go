package serverankings

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// countingReader answers Top with the number of times it was called as the count.
type countingReader struct{ calls atomic.Int64 }

func (r *countingReader) Top(context.Context, rankings.Ranking, rankings.Window, time.Time) ([]rankings.Item, error) {
	return []rankings.Item{{Key: "k", Count: r.calls.Add(1)}}, nil
}
func (r *countingReader) RecentViews(context.Context, string) ([]rankings.View, error) {
	return nil, nil
}
func (r *countingReader) Latest(context.Context, rankings.Search, *rankings.Cursor, int) ([]rankings.Tweet, string, error) {
	return nil, "", nil
}

// Within the ttl many readers share one computation; past it they get the last one at once
// while one background computation replaces it.
func TestRankingCacheServesStaleWhileRefreshing(t *testing.T) {
	r := &countingReader{}
	var mu sync.Mutex
	clock := now
	h := NewHandler(r, Config{CacheTTL: 5 * time.Second}, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	count := func() int64 {
		t.Helper()
		req := httptestRequest("/rankings/hashtags?window=15m")
		w := newRecorder()
		h.ServeHTTP(w, req)
		var got RankingResponse
		if err := json.Unmarshal(w.body.Bytes(), &got); err != nil || len(got.Items) != 1 {
			t.Fatalf("answer %s: %v", w.body.Bytes(), err)
		}
		return got.Items[0].Count
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { count() })
	}
	wg.Wait()
	if n := r.calls.Load(); n != 1 {
		t.Errorf("50 readers within the ttl made %d computations, want 1", n)
	}
	mu.Lock()
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	if got := count(); got != 1 {
		t.Errorf("past the ttl the first answer holds count %d, want the cached 1 (no waiting)", got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh never replaced the cached ranking (%d computations)", r.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := r.calls.Load(); n != 2 {
		t.Errorf("%d computations after one ttl passed, want 2", n)
	}
}

func httptestRequest(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

type recorder struct {
	*httptest.ResponseRecorder
	body *bytes.Buffer
}

func newRecorder() *recorder {
	r := httptest.NewRecorder()
	return &recorder{ResponseRecorder: r, body: r.Body}
}
