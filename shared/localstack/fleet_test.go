package localstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFrontDoor: the front door routes /<EntryPoint>/rest to that function's own process as
// /rest, and holds what Cloud Run holds a function to: 413 past 32 MB of request
// (https://cloud.google.com/functions/quotas) and 504 past the function's timeout
// (https://cloud.google.com/run/docs/configuring/request-timeout).
func TestFrontDoor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs, err := StartFunctionSet(ctx, os.Args[0], 0, map[string]string{orphanRoleEnv: "frontdoor"}, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Stop()
	// Terraform's shortest timeout is 30 s; the test's is shorter, set the way Start sets it.
	fs.mu.Lock()
	fs.timeout["ServeRankings"] = time.Second
	fs.mu.Unlock()

	type answer struct {
		Status int
		Body   string
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   int64
		chunk  bool // no Content-Length
		want   answer
	}{
		{name: "routed, prefix stripped", method: http.MethodPost, path: "/LoadEvents/projects/p/topics/events", body: 10,
			want: answer{http.StatusOK, "LoadEvents /projects/p/topics/events 10"}},
		{name: "at the bound", method: http.MethodPost, path: "/CollectEvents/", body: maxRequestBytes,
			want: answer{http.StatusOK, fmt.Sprintf("CollectEvents / %d", maxRequestBytes)}},
		{name: "past the bound", method: http.MethodPost, path: "/CollectEvents/", body: maxRequestBytes + 1,
			want: answer{http.StatusRequestEntityTooLarge, fmt.Sprintf("the request is over the %d bytes a function takes", maxRequestBytes)}},
		{name: "past the bound, chunked", method: http.MethodPost, path: "/CollectEvents/", body: maxRequestBytes + 1, chunk: true,
			want: answer{http.StatusRequestEntityTooLarge, fmt.Sprintf("the request is over the %d bytes a function takes", maxRequestBytes)}},
		{name: "past the timeout", method: http.MethodGet, path: "/ServeRankings/slow",
			want: answer{http.StatusGatewayTimeout, timeoutMessage}},
		{name: "no such function", method: http.MethodGet, path: "/Nope/x",
			want: answer{http.StatusNotFound, `no function "Nope" here`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = io.LimitReader(zeros{}, tc.body)
			if tc.chunk {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequestWithContext(ctx, tc.method, fs.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.chunk && tc.body > 0 {
				req.ContentLength = tc.body
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			got := answer{resp.StatusCode, strings.TrimSpace(string(b))}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tc.method, tc.path, diff)
			}
		})
	}

	// Every answer above was counted for its function, as the callers saw it: the 504 of the
	// timeout is ServeRankings' 5xx, the 413s are not errors, and a name that is no function
	// is nobody's.
	var errs []FunctionErrors
	if err := getHealthJSON(ctx, fs.URL+StackPath+"errors", &errs); err != nil {
		t.Fatal(err)
	}
	want := []FunctionErrors{
		{Function: "CollectEvents", Requests: 3},
		{Function: "LoadEvents", Requests: 1},
		{Function: "ServeRankings", Requests: 1, Errors5xx: 1},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("GET %serrors (-want +got):\n%s", StackPath, diff)
	}
}

// TestResponseCountsWindow: answers older than HealthWindow drop out; a minute at the window's
// start still counts.
func TestResponseCountsWindow(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 30, 0, time.UTC)
	var c responseCounts
	c.record("F", 500, t0)
	c.record("F", 200, t0.Add(HealthWindow))
	c.record("F", 0, t0.Add(HealthWindow))
	for _, tc := range []struct {
		now  time.Time
		want []FunctionErrors
	}{
		{t0.Add(HealthWindow), []FunctionErrors{{Function: "F", Requests: 3, Errors5xx: 2}}},
		{t0.Add(HealthWindow + time.Minute), []FunctionErrors{{Function: "F", Requests: 2, Errors5xx: 1}}},
	} {
		if diff := cmp.Diff(tc.want, c.since(tc.now.Add(-HealthWindow))); diff != "" {
			t.Errorf("since(%s) (-want +got):\n%s", tc.now.Add(-HealthWindow), diff)
		}
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
