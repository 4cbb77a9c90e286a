package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// fakeAPI is the Backfill function's HTTP API as the contract describes it: POST /backfills
// creates a job (or plans it for a dry run), GET /backfills/{id} walks the job through
// f.statuses one poll at a time (the last repeats), :retry and :cancel answer as documented.
type fakeAPI struct {
	mu sync.Mutex
	// statuses are the successive answers to GET; the last one repeats.
	statuses []backfill.Status
	polls    int
	// failPolls makes the next GETs fail: a 503, then a malformed response, alternating.
	failPolls int
	failed    int
	// createErr, if set, is the answer to POST /backfills: a status code and a body.
	createErr *fakeAnswer
	requests  []fakeRequest
}

type fakeAnswer struct {
	code int
	body string
}

// fakeRequest is what the fake saw of a request.
type fakeRequest struct {
	Method, Path, Body, Auth string
}

const testJob = "yt-0123abcd"

var (
	testCreated = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	testUpdated = testCreated.Add(4*time.Minute + 44*time.Second)
)

// progression is a job of planned tasks that goes planning -> running -> running -> final.
func progression(final string, planned int) []backfill.Status {
	at := func(state string, succeeded, failed, retrying int) backfill.Status {
		s := backfill.Status{JobID: testJob, State: state, CreatedAt: testCreated, UpdatedAt: testUpdated,
			Counts: backfill.Counts{Planned: planned, Enqueued: planned, Succeeded: succeeded, Failed: failed,
				Retrying: retrying, Rows: succeeded * 10, APICalls: succeeded + failed + retrying}}
		if state == "running" {
			s.RatePerSec, s.ETASeconds = 512.3, 148
		}
		return s
	}
	last := at(final, planned, 0, 0)
	switch final {
	case "done_with_failures":
		last = at(final, planned-3, 3, 0)
		last.Failures = []backfill.FailureGroup{
			{Reason: "quotaExceeded", Count: 2, Shards: []string{"video=a/2024-01-01..2024-01-31", "video=b/2024-01-01..2024-01-31"}},
			{Reason: "http 404", Count: 1, Shards: []string{"video=gone/2024-01-01..2024-01-31"}},
		}
	case "blocked":
		last = at(final, planned/2, 0, 0)
		last.Blocked = "youtube analytics token revoked: invalid_grant"
	case "cancelled":
		last = at(final, planned/2, 0, 0)
		last.Counts.Cancelled = planned - planned/2
	}
	return []backfill.Status{
		{JobID: testJob, State: "planning", Counts: backfill.Counts{Planned: planned}, CreatedAt: testCreated, UpdatedAt: testCreated},
		at("running", planned*4/10, 0, 2),
		at("running", planned*8/10, 0, 1),
		last,
	}
}

func newFakeAPI(t *testing.T, f *fakeAPI) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backfills", f.create)
	mux.HandleFunc("GET /backfills/{id}", f.status)
	mux.HandleFunc("POST /backfills/{idverb}", f.verb)
	// Also under /Backfill, the path of a Cloud Functions URL (https://REGION-PROJECT.cloudfunctions.net/Backfill).
	root := http.NewServeMux()
	root.Handle("/", mux)
	root.Handle("/Backfill/", http.StripPrefix("/Backfill", mux))
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeAPI) record(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Body: string(body), Auth: r.Header.Get("Authorization")})
	return body
}

// seen returns the requests so far.
func (f *fakeAPI) seen() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ") // pretty, so --json has to compact it
	_ = enc.Encode(v)
}

func (f *fakeAPI) create(w http.ResponseWriter, r *http.Request) {
	body := f.record(r)
	f.mu.Lock()
	ce := f.createErr
	f.mu.Unlock()
	if ce != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ce.code)
		_, _ = io.WriteString(w, ce.body)
		return
	}
	var spec struct {
		DryRun bool `json:"dry_run"`
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return
	}
	if spec.DryRun {
		writeJSON(w, http.StatusOK, map[string]any{
			"job_id": testJob, "tasks": 62, "api_calls": 62,
			"sample": []map[string]any{{"job_id": testJob, "shard": "video=a/2024-01-01..2024-01-31", "index": 0}},
			"chunks": []map[string]string{{"start": "2024-01-01", "end": "2024-01-31"}, {"start": "2024-02-01", "end": "2024-02-29"}},
		})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"job_id": testJob, "created": true, "planned_tasks": 62, "api_calls": 62,
		"status_url": "/backfills/" + testJob, "state": "planning",
	})
}

func (f *fakeAPI) status(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	f.mu.Lock()
	if f.failPolls > 0 {
		f.failPolls--
		f.failed++
		n := f.failed
		f.mu.Unlock()
		if n%2 == 1 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "instance starting"})
			return
		}
		// A malformed response: a network-level failure the transport does not retry by itself.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_, _ = buf.WriteString("HTTP/1.1 garbage\r\n\r\n")
			_ = buf.Flush()
			conn.Close()
		}
		return
	}
	if r.PathValue("id") != testJob {
		f.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no backfill job " + r.PathValue("id")})
		return
	}
	s := f.statuses[min(f.polls, len(f.statuses)-1)]
	f.polls++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, s)
}

func (f *fakeAPI) verb(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	id, verb, _ := strings.Cut(r.PathValue("idverb"), ":")
	switch verb {
	case "retry":
		writeJSON(w, http.StatusAccepted, map[string]any{"job_id": id, "retried": 3, "status_url": "/backfills/" + id})
	case "cancel":
		f.mu.Lock()
		s := f.statuses[len(f.statuses)-1]
		f.mu.Unlock()
		s.State = "cancelled"
		writeJSON(w, http.StatusOK, s)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown verb " + verb})
	}
}

// testApp returns an app writing to buffers, with the server's own transport (closed with it)
// and no way to reach real credentials.
func testApp(t *testing.T, srv *httptest.Server) (*app, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(string) string { return "" }
	a.tokens = func(context.Context, string) (oauth2.TokenSource, error) {
		t.Errorf("tokens called for a local URL")
		return nil, fmt.Errorf("no tokens in this test")
	}
	a.transport = srv.Client().Transport
	return a, &stdout, &stderr
}

// redirectTransport sends every request to addr whatever its URL's host, so a test can use a
// non-local URL against a loopback server.
func redirectTransport(t *testing.T, addr string) *http.Transport {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
