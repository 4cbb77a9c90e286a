// Package httpjsonfake runs a local paginated JSON API (page, cursor and next-link styles, and
// item details) for the http_json source, with the options of sourcestest.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package httpjsonfake

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// JSONAPIStats is a snapshot of what a JSONAPIServer served.
type JSONAPIStats struct {
	// Calls counts requests to every path.
	Calls int
	// ByStatus counts responses per HTTP status.
	ByStatus map[int]int
	// ByPath counts requests per URL path ("/items", "/items/7", "/list").
	ByPath map[string]int
}

// JSONAPIServer is a small paginated JSON API:
//
//	GET /items              first page; paging.next is a cursor link
//	GET /items?page=N       page N (1-based); paging.next is ?page=N+1
//	GET /items?cursor=C     the page after cursor C (paging.cursor)
//	GET /items/{id}         one item, 404 {"error":...} when unknown
//	GET /list?page=N        page N as a bare JSON array (records path "")
//
// List bodies are {"data":{"items":[...]},"paging":{"page":N,"next":URL|null,
// "cursor":C|null},"total":T}; past the last page items is empty and next null.
type JSONAPIServer struct {
	srv  *httptest.Server
	opts sourcestest.Options

	mu       sync.Mutex // guards the generator and counters; never held while sleeping
	rng      *rand.Rand
	calls    int
	byStatus map[int]int
	byPath   map[string]int
}

// NewJSONAPIServer starts a server on loopback; Close it when done.
func NewJSONAPIServer(opts ...sourcestest.Option) *JSONAPIServer {
	o := sourcestest.Resolve(opts)
	if o.PageSize < 1 {
		o.PageSize = 1
	}
	s := &JSONAPIServer{
		opts:     o,
		rng:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		byStatus: map[int]int{},
		byPath:   map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", s.handleList)
	mux.HandleFunc("GET /list", s.handleList)
	mux.HandleFunc("GET /items/{id}", s.handleItem)
	s.srv = httptest.NewServer(s.count(mux))
	return s
}

// URL is the server's base URL, e.g. http://127.0.0.1:1234.
func (s *JSONAPIServer) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *JSONAPIServer) Close() { s.srv.Close() }

// Stats returns a snapshot of the counters.
func (s *JSONAPIServer) Stats() JSONAPIStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := JSONAPIStats{Calls: s.calls, ByStatus: map[int]int{}, ByPath: map[string]int{}}
	for k, v := range s.byStatus {
		st.ByStatus[k] = v
	}
	for k, v := range s.byPath {
		st.ByPath[k] = v
	}
	return st
}

// Item is the fake's item number id (1-based), as served; tests use it to
// predict records.
func Item(id int) map[string]any {
	h := sourcestest.Hash64("item", strconv.Itoa(id))
	return map[string]any{
		"id":         int64(id),
		"name":       fmt.Sprintf("item-%05d", id),
		"price":      float64(h%100000)/100 + 0.005, // never integral: stays a float
		"quantity":   int64(h % 100),
		"big_id":     int64(9007199254740993) + int64(id), // above 2^53: must not go through float64
		"active":     h%2 == 0,
		"updated_at": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h%(365*24)) * time.Hour).Format(time.RFC3339),
	}
}

// statusRecorder captures the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// count wraps next with latency, random faults and counters.
func (s *JSONAPIServer) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sourcestest.SleepCtx(r.Context(), s.opts.Latency)
		s.mu.Lock()
		x := 1.0
		if s.opts.FailRate > 0 || s.opts.Rate429 > 0 {
			x = s.rng.Float64()
		}
		s.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		switch {
		case x < s.opts.FailRate:
			sourcestest.WriteJSON(rec, http.StatusServiceUnavailable, map[string]string{"error": "service unavailable"})
		case x < s.opts.FailRate+s.opts.Rate429:
			rec.Header().Set("Retry-After", strconv.Itoa(int(s.opts.RetryAfter/time.Second)))
			sourcestest.WriteJSON(rec, http.StatusTooManyRequests, map[string]string{"error": "too many requests"})
		default:
			next.ServeHTTP(rec, r)
		}
		s.mu.Lock()
		s.calls++
		s.byStatus[rec.status]++
		s.byPath[r.URL.Path]++
		s.mu.Unlock()
	})
}

// handleList serves /items and /list pages.
func (s *JSONAPIServer) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, total := s.opts.PageSize, s.opts.Items
	offset, page := 0, 1
	byPage := q.Has("page")
	switch {
	case byPage:
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil || n < 1 {
			sourcestest.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "page must be a positive integer"})
			return
		}
		page, offset = n, (n-1)*size
	case q.Has("cursor"):
		n, err := strconv.Atoi(strings.TrimPrefix(q.Get("cursor"), "c"))
		if err != nil || n < 0 || !strings.HasPrefix(q.Get("cursor"), "c") {
			sourcestest.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid cursor"})
			return
		}
		offset, page = n, n/size+1
	}
	items := []map[string]any{}
	for id := offset + 1; id <= min(offset+size, total); id++ {
		items = append(items, Item(id))
	}
	if r.URL.Path == "/list" {
		sourcestest.WriteJSON(w, http.StatusOK, items)
		return
	}
	paging := map[string]any{"page": page, "next": nil, "cursor": nil}
	if end := offset + size; end < total {
		cursor := fmt.Sprintf("c%d", end)
		paging["cursor"] = cursor
		if byPage {
			paging["next"] = fmt.Sprintf("%s/items?page=%d", s.srv.URL, page+1)
		} else {
			paging["next"] = fmt.Sprintf("%s/items?cursor=%s", s.srv.URL, cursor)
		}
	}
	sourcestest.WriteJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"items": items}, "paging": paging, "total": total})
}

// handleItem serves /items/{id}.
func (s *JSONAPIServer) handleItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > s.opts.Items {
		sourcestest.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "item not found"})
		return
	}
	sourcestest.WriteJSON(w, http.StatusOK, Item(id))
}

// Env lets the http_json source reach the fake's loopback host.
func (s *JSONAPIServer) Env() map[string]string {
	return map[string]string{"HTTP_JSON_ALLOWED_HOSTS": strings.Join([]string{"127.0.0.1", "localhost"}, ",")}
}

// Counts implements sourcestest.Fake: the requests by status (the API takes no token).
func (s *JSONAPIServer) Counts() sourcestest.Counts {
	st := s.Stats()
	return sourcestest.Counts{Calls: st.Calls, ByStatus: st.ByStatus}
}
