package deck

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHealthProxy: deck/health passes on the fields of Health from Config.HealthURL's answer
// (the local stack's health carries more: reasons by minute pass, the forwarder's counters and
// problems do not), answers 404 without a HealthURL (the deployed deck: no panel), and 502 when
// the source fails, says nothing decodable, or answers past maxHealthBody.
func TestHealthProxy(t *testing.T) {
	const stack = `{"at":"2026-05-01T12:03:00Z","window_s":600,"dead_letters":[{"minute":"2026-05-01T12:03:00Z","reason":"data: not JSON","count":3}],` +
		`"subscriptions":[{"subscription":"projects/p/subscriptions/events-loader","unacked":2,"oldest_unacked_age_s":1.5,"in_flight":2,"acked":9,"nacked":1,"dead_lettered":0}],` +
		`"stream":{"state":"idle","holder":"exec-SECRET","idle_s":42},"jobs":[{"job_id":"bf-1","state":"running","planned":3,"rate_per_sec":2}],` +
		`"functions":[{"function":"LoadEvents","requests":9,"errors_5xx":1}],"problems":["GET http://127.0.0.1:1/SECRET failed"]}`
	const view = `{"at":"2026-05-01T12:03:00Z","window_s":600,"dead_letters":[{"minute":"2026-05-01T12:03:00Z","reason":"data: not JSON","count":3}],` +
		`"subscriptions":[{"subscription":"projects/p/subscriptions/events-loader","unacked":2,"oldest_unacked_age_s":1.5}],` +
		`"stream":{"state":"idle","idle_s":42},"jobs":[{"job_id":"bf-1","rate_per_sec":2}],"functions":[{"function":"LoadEvents","requests":9,"errors_5xx":1}]}`
	const empty = `{"at":"0001-01-01T00:00:00Z","window_s":0,"dead_letters":[],"subscriptions":[],"jobs":[],"functions":[]}`
	// A valid answer of exactly maxHealthBody bytes: the object, then spaces.
	atBound := `{}` + strings.Repeat(" ", maxHealthBody-2)
	tests := []struct {
		name   string
		answer string // "" with status 0: no HealthURL configured
		status int
		want   int
		body   string
	}{
		{"no source", "", 0, 404, `{"error":"health: no health source is configured"}`},
		{"only the panel's fields", stack, 200, 200, view},
		{"null lists", `{"dead_letters":null}`, 200, 200, empty},
		{"at the size bound", atBound, 200, 200, empty},
		{"past the size bound", atBound + " ", 200, 502, `{"error":"health is unavailable; try again"}`},
		{"source fails", `boom`, 500, 502, `{"error":"health is unavailable; try again"}`},
		{"not JSON", `<html>`, 200, 502, `{"error":"health is unavailable; try again"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{DefaultKeyword: "gcp"}
			if tt.status != 0 {
				upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.answer)
				}))
				defer upstream.Close()
				cfg.HealthURL = upstream.URL + "/_stack/health"
			}
			h, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp := get(t, h, http.MethodGet, "/deck/health", nil)
			got := strings.TrimSpace(body(t, resp))
			if diff := cmp.Diff(tt.body, got); diff != "" || resp.StatusCode != tt.want {
				t.Errorf("GET /deck/health = %d, want %d (-want +got):\n%s", resp.StatusCode, tt.want, diff)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

// TestIndexSaysWhetherThereIsAHealthPanel: the page's config has health true only with a
// HealthURL, so the deployed deck shows no panel.
func TestIndexSaysWhetherThereIsAHealthPanel(t *testing.T) {
	for _, url := range []string{"", "http://127.0.0.1:1/_stack/health"} {
		h, err := New(Config{DefaultKeyword: "gcp", HealthURL: url})
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, get(t, h, http.MethodGet, "/", nil))
		if want := `"health":` + map[bool]string{true: "true", false: "false"}[url != ""]; !strings.Contains(page, want) {
			t.Errorf("HealthURL %q: the page's config has no %s", url, want)
		}
	}
}

// FuzzHealthView: whatever the health source answers, the deck passes on Health's fields only,
// or refuses it.
func FuzzHealthView(f *testing.F) {
	f.Add([]byte(`{"dead_letters":[{"reason":"x","count":1,"data":"SECRET"}],"problems":["p"]}`))
	f.Add([]byte(`{"stream":{"state":"held","holder":"h"},"subscriptions":[{"acked":1}]}`))
	f.Add([]byte(`null`))
	allowed := map[string]bool{"at": true, "window_s": true, "dead_letters": true, "minute": true, "reason": true, "count": true,
		"subscriptions": true, "subscription": true, "unacked": true, "at_least": true, "oldest_unacked_age_s": true,
		"stream": true, "state": true, "idle_s": true, "jobs": true, "job_id": true, "rate_per_sec": true,
		"functions": true, "function": true, "requests": true, "errors_5xx": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := healthView(body)
		if err != nil {
			return
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("healthView(%q) = %q, not JSON: %v", body, out, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					if !allowed[k] {
						t.Fatalf("healthView(%q) passed field %q: %s", body, k, out)
					}
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(v)
	})
}
