package httpjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest/secretforms"
)

// appIDSecret is the resource name of the query credential in these tests.
const appIDSecret = "projects/p/secrets/app/versions/1"

// echoAPI is an API that puts the appid it was sent back into its next link, in the path and
// the query, and fails the second page as fail says.
func echoAPI(fail func(w http.ResponseWriter, r *http.Request, appID string)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appID := r.URL.Query().Get("appid")
		if r.URL.Query().Get("page") == "2" {
			fail(w, r, appID)
			return
		}
		next := "/items/" + url.PathEscape(appID) + "?page=2&appid=" + url.QueryEscape(appID) + "&raw=" + appID
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[{"a":1}],"next":` + strconvQuote(next) + `}`))
	}))
}

// strconvQuote is a JSON string literal of s.
func strconvQuote(s string) string {
	var b bytes.Buffer
	enc := jsonEncoder(&b)
	enc.Encode(s)
	return strings.TrimSpace(b.String())
}

// An API that echoes the query credential in its next link and then fails: neither the error,
// its reason nor the debug log quotes the credential, however it is encoded.
func TestStreamRedactsEchoedCredential(t *testing.T) {
	const appID = `app/sec ret+&=é"\x`
	tests := []struct {
		name string
		kind sources.ErrorKind
		fail func(w http.ResponseWriter, r *http.Request, appID string)
	}{
		{"server error quoting the url", sources.Transient, func(w http.ResponseWriter, r *http.Request, appID string) {
			http.Error(w, "no such page: "+r.URL.String()+" (appid "+appID+")", http.StatusInternalServerError)
		}},
		{"google error quoting the credential", sources.Permanent, func(w http.ResponseWriter, r *http.Request, appID string) {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"key ` + strings.Trim(strconvQuote(appID), `"`) + ` is not allowed","status":` + strconvQuote(appID) + `}}`))
		}},
		{"bad json", sources.Permanent, func(w http.ResponseWriter, r *http.Request, appID string) {
			w.Write([]byte(`{"items":[`))
		}},
		{"redirect to a refused host", sources.Permanent, func(w http.ResponseWriter, r *http.Request, appID string) {
			http.Redirect(w, r, "http://198.51.100.7/?appid="+url.QueryEscape(appID), http.StatusFound)
		}},
		{"next link to a refused host", sources.Permanent, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := tt.fail
			if fail == nil {
				fail = func(w http.ResponseWriter, r *http.Request, appID string) {
					w.Write([]byte(`{"items":[{"a":2}],"next":"ftp://` + url.PathEscape(appID) + `/x?appid=` + url.QueryEscape(appID) + `"}`))
				}
			}
			srv := echoAPI(fail)
			defer srv.Close()
			var logs bytes.Buffer
			h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy, Secrets: mapSecrets{appIDSecret: appID},
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			req := httpjson.HTTPJSONRequest{URL: srv.URL + "/items", RecordsPath: "items",
				Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "next"},
				Secrets:    []httpjson.Credential{{Query: "appid", Secret: appIDSecret}}}
			calls, err := h.Stream(t.Context(), req, func(sources.Page) error { return nil })
			var se *sources.Error
			if !errors.As(err, &se) {
				t.Fatalf("Stream() = %d calls, %v; want a *sources.Error", calls, err)
			}
			// Redacting keeps what the worker decides on: the kind and the calls made.
			if se.Kind != tt.kind || se.APICalls != 2 {
				t.Errorf("Stream() = %v (%v, %d calls), want %v after 2 calls", err, se.Kind, se.APICalls, tt.kind)
			}
			if tt.name == "redirect to a refused host" && !errors.Is(err, sources.ErrHostNotAllowed) {
				t.Errorf("Stream() = %v, want it to match ErrHostNotAllowed", err)
			}
			t.Logf("Stream() = %v", err)
			for _, out := range []struct{ what, text string }{{"error", err.Error()}, {"reason", se.Reason}, {"log", logs.String()}} {
				for _, form := range secretforms.SecretForms(appID) {
					if strings.Contains(out.text, form) {
						t.Errorf("Stream() %s quotes the credential as %q:\n%s", out.what, form, out.text)
					}
				}
			}
		})
	}
}

// jsonEncoder is a JSON encoder that leaves <, > and & as they are, as most APIs do.
func jsonEncoder(b *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc
}

// FuzzRedactHTTPJSON runs Stream against an API that echoes the credential in its next link,
// spelled as enc picks and surrounded by arbitrary text, then fails page 2 as mode picks with a
// body that quotes it again: no spelling of the credential reaches the error, its reason or the
// log.
func FuzzRedactHTTPJSON(f *testing.F) {
	f.Add("app-very-secret", "/items?page=2&appid=", "&x=1", uint8(1), uint8(0))
	f.Add(`app/sec ret+&=é"\x`, "/p/", "?page=2", uint8(2), uint8(1))
	f.Add("k3y", "ftp://h/", "?page=2", uint8(0), uint8(2))
	f.Add("k3y", "http://[::1", "", uint8(4), uint8(3))
	f.Add("%41", "?page=2&q=", "%", uint8(5), uint8(4))
	type fuzzCase struct {
		form, before, after string
		mode                uint8
	}
	var cases sync.Map // case id -> fuzzCase, so that one server serves every worker
	var ids atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := cases.Load(r.URL.Query().Get("case"))
		if !ok {
			http.Error(w, "no case", http.StatusNotFound)
			return
		}
		c := v.(fuzzCase)
		if r.URL.Query().Get("page") != "2" {
			link := c.before + c.form + c.after
			w.Write([]byte(`{"items":[{"a":1}],"next":` + strconvQuote(link) + `}`))
			return
		}
		echo := "bad page " + r.URL.String() + " " + c.before + c.form + c.after
		switch c.mode % 5 {
		case 0:
			http.Error(w, echo, http.StatusInternalServerError)
		case 1:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"message":` + strconvQuote(echo) + `,"status":` + strconvQuote(c.form) + `}}`))
		case 2:
			w.Write([]byte(echo))
		case 3:
			http.Redirect(w, r, "http://198.51.100.7/"+c.form+"?"+c.after, http.StatusFound)
		default:
			w.Write([]byte(`{"items":"` + c.form + `","next":` + strconvQuote(c.before+c.form) + `}`))
		}
	}))
	defer srv.Close()
	f.Fuzz(func(t *testing.T, secret, before, after string, enc, mode uint8) {
		if len(secret) < 8 {
			// Shorter ones spell our own words and numbers (a page count, a port): FuzzRedactString
			// covers them.
			return
		}
		forms := secretforms.SecretForms(secret)
		id := strconv.FormatInt(ids.Add(1), 10)
		cases.Store(id, fuzzCase{form: forms[int(enc)%len(forms)], before: before, after: after, mode: mode})
		defer cases.Delete(id)
		var logs bytes.Buffer
		h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy, Secrets: mapSecrets{appIDSecret: secret},
			Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		req := httpjson.HTTPJSONRequest{URL: srv.URL + "/items?case=" + id, RecordsPath: "items",
			Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "next", MaxPages: 3},
			Secrets:    []httpjson.Credential{{Query: "appid", Secret: appIDSecret}}}
		_, err := h.Stream(t.Context(), req, func(sources.Page) error { return nil })
		var texts []string
		for line := range strings.Lines(logs.String()) {
			// The url is the logged text that the API chose; the rest is ours.
			var rec struct{ URL string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			texts = append(texts, rec.URL)
		}
		var se *sources.Error
		if errors.As(err, &se) {
			texts = append(texts, err.Error(), se.Reason)
		}
		for _, text := range texts {
			for _, form := range forms {
				if strings.Contains(text, form) {
					t.Errorf("Stream() with credential %q quotes it as %q:\n%s", secret, form, text)
				}
			}
		}
	})
}
