package httpjson_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// mapSecrets is a SecretResolver over a map; a missing name is NotFound, as Secret Manager says.
type mapSecrets map[string]string

func (m mapSecrets) Resolve(_ context.Context, name string) (string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", status.Errorf(codes.NotFound, "secret %s not found", name)
}

// The worker adds the credentials a request names to every page, and no error quotes them.
func TestStreamInjectsSecrets(t *testing.T) {
	const token, appID = "tok-very-secret", "app-very-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token || r.URL.Query().Get("appid") != appID {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("page") == "2" {
			w.Write([]byte(`{"items":[]}`))
			return
		}
		w.Write([]byte(`{"items":[{"a":1},{"a":2}]}`))
	}))
	defer srv.Close()
	creds := []httpjson.Credential{
		{Header: "Authorization", Prefix: "Bearer ", Secret: "projects/p/secrets/token/versions/latest"},
		{Query: "appid", Secret: "projects/p/secrets/app/versions/1"},
	}
	secrets := mapSecrets{creds[0].Secret: token, creds[1].Secret: appID}
	h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy, Secrets: secrets})
	req := httpjson.HTTPJSONRequest{URL: srv.URL + "/items", RecordsPath: "items", Secrets: creds,
		Pagination: httpjson.Pagination{Type: httpjson.PaginationPage, PageParam: "page"}}
	var records int
	calls, err := h.Stream(t.Context(), req, func(p sources.Page) error { records += len(p.Records); return nil })
	if err != nil || records != 2 || calls != 2 {
		t.Errorf("Stream() = %d calls, %d records, %v; want 2, 2, nil", calls, records, err)
	}

	// Without the secrets: the API refuses, and the error does not quote any credential.
	missing := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy, Secrets: mapSecrets{}})
	_, err = missing.Fetch(t.Context(), req)
	if sources.KindOf(err) != sources.Permanent {
		t.Errorf("Fetch() with a missing secret = %v (%v), want a permanent failure", err, sources.KindOf(err))
	}
	none := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy})
	if _, err := none.Fetch(t.Context(), req); sources.KindOf(err) != sources.Permanent {
		t.Errorf("Fetch() without a resolver = %v, want a permanent failure", err)
	}
	// A transport failure's message names the URL without the query credential.
	srv.Close()
	_, err = h.Fetch(t.Context(), req)
	var se *sources.Error
	if !errors.As(err, &se) {
		t.Fatalf("Fetch() from a closed server = %v, want *sources.Error", err)
	}
	if msg := err.Error(); strings.Contains(msg, appID) || strings.Contains(msg, token) {
		t.Errorf("Fetch() error %q quotes a credential", msg)
	}
}
