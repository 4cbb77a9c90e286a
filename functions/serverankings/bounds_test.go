package serverankings

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestQueryBounds: a /tweets query of exactly MaxQueryLen bytes and n of MaxPage are served;
// one byte or one more is a 400 naming the parameter.
func TestQueryBounds(t *testing.T) {
	srv, _ := serve(t)
	at := "#" + strings.Repeat("é", (MaxQueryLen-1)/2) // 1 + 2×49 = 99 bytes: pad one ASCII letter
	at += strings.Repeat("a", MaxQueryLen-len(at))
	tests := []struct {
		query     string
		wantParam string // "" for 200
	}{
		{"q=" + url.QueryEscape(at), ""},
		{"q=" + url.QueryEscape(at+"a"), "q"},
		{"q=gcp&n=100", ""},
		{"q=gcp&n=101", "n"},
	}
	for _, tc := range tests {
		res, body := get(t, srv.URL+"/tweets?"+tc.query, nil)
		switch {
		case tc.wantParam == "" && res.StatusCode != http.StatusOK:
			t.Errorf("GET /tweets?%.40s… = %d %s, want 200", tc.query, res.StatusCode, body)
		case tc.wantParam != "" && (res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"param":"`+tc.wantParam+`"`)):
			t.Errorf("GET /tweets?%.40s… = %d %s, want 400 naming %s", tc.query, res.StatusCode, body, tc.wantParam)
		}
	}
}

// TestErrorsQuoteAnExcerpt: a 10 kB bad parameter is named in a short answer, not echoed.
func TestErrorsQuoteAnExcerpt(t *testing.T) {
	srv, _ := serve(t)
	long := strings.Repeat("x", 10<<10)
	for _, path := range []string{"/rankings/" + long, "/rankings/hashtags?window=" + long, "/rankings/hashtags?n=" + long} {
		res, body := get(t, srv.URL+path, nil)
		if res.StatusCode != http.StatusBadRequest || len(body) > 300 {
			t.Errorf("GET %.40s… = %d with %d bytes, want a 400 of at most 300 bytes", path, res.StatusCode, len(body))
		}
	}
}
