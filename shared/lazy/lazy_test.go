package lazy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// A failed build is answered 500 with the reason and tried again on the next request; a
// successful one is kept.
func TestHandlerRetriesFailedBuild(t *testing.T) {
	builds := 0
	outcomes := []error{errors.New("creating Firestore client: no credentials"), nil}
	l := NewHandler("CollectEvents", slog.New(slog.NewTextHandler(io.Discard, nil)), func(context.Context) (http.Handler, error) {
		err := outcomes[min(builds, len(outcomes)-1)]
		builds++
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	tests := []struct {
		wantStatus int
		wantBody   string
		wantBuilds int
	}{
		{http.StatusInternalServerError, "CollectEvents is not ready: creating Firestore client: no credentials", 1},
		{http.StatusTeapot, "", 2},
		{http.StatusTeapot, "", 2},
	}
	for i, tt := range tests {
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != tt.wantStatus {
			t.Errorf("request %d: status = %d, want %d", i, rec.Code, tt.wantStatus)
		}
		if tt.wantBody != "" {
			var got struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Error != tt.wantBody {
				t.Errorf("request %d: body = %s, want error %q", i, rec.Body, tt.wantBody)
			}
		}
		if builds != tt.wantBuilds {
			t.Errorf("request %d: %d builds, want %d", i, builds, tt.wantBuilds)
		}
	}
}

// Concurrent first requests build once, and the build's context outlives the request's.
func TestValueBuildsOnceWithAContextThatOutlivesTheRequest(t *testing.T) {
	var mu sync.Mutex
	builds := 0
	v := NewValue(func(ctx context.Context) (context.Context, error) {
		mu.Lock()
		builds++
		mu.Unlock()
		return ctx, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Get(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cancel()
	built, _ := v.Get(context.Background())
	if builds != 1 {
		t.Errorf("%d builds, want 1", builds)
	}
	if built.Err() != nil {
		t.Errorf("the build's context ended with the request: %v", built.Err())
	}
}

// FromEnv reads the configuration from the environment on the first request and answers a
// configuration error with 500 naming it, before any client is built.
func TestFromEnvLoadsConfigOnFirstRequest(t *testing.T) {
	t.Setenv("LAZY_TEST_TOPIC", "")
	load := func(lookup func(string) (string, bool)) (string, error) {
		if v, ok := lookup("LAZY_TEST_TOPIC"); ok && v != "" {
			return v, nil
		}
		return "", errors.New("LAZY_TEST_TOPIC: required but not set")
	}
	var built []string
	h := FromEnv("Test", slog.New(slog.NewTextHandler(io.Discard, nil)), load, func(_ context.Context, topic string) (http.Handler, error) {
		built = append(built, topic)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), nil
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Test is not ready: LAZY_TEST_TOPIC: required") {
		t.Errorf("unconfigured answer = %d %s, want 500 naming LAZY_TEST_TOPIC", rec.Code, rec.Body)
	}
	t.Setenv("LAZY_TEST_TOPIC", "events")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusNoContent || len(built) != 1 || built[0] != "events" {
		t.Errorf("configured answer = %d, builds %v; want 204 and one build with topic events", rec.Code, built)
	}
}
