package serverankings

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/columnsets"
	"github.com/pipelinekit/pipelinekit/shared/signin"
)

// FuzzPutBody: any PUT body is decoded or refused as a BadParam naming a field, never a panic;
// what passes decoding and CheckColumns stays within the set's bounds.
func FuzzPutBody(f *testing.F) {
	for _, s := range []string{`{"columns":["q:Pub/Sub","q:데이터"]}`, `{"columns":null}`, `{"columns":[1]}`, `{"x":1}`, `[]`, ``, `{"columns":["` + strings.Repeat("a", 200) + `"]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("PUT", "/column_sets/main", strings.NewReader(body))
		in, err := readPut(httptest.NewRecorder(), r)
		var bad *columnsets.BadParam
		if err != nil {
			if !errors.As(err, &bad) || bad.Param == "" {
				t.Fatalf("readPut(%q) = %v, want a BadParam naming a field", body, err)
			}
			return
		}
		if err := columnsets.CheckColumns(in.Columns); err == nil && len(in.Columns) > columnsets.MaxColumns {
			t.Fatalf("%d columns passed the check", len(in.Columns))
		}
	})
}

// FuzzBearer: any Authorization header gives a token within the bound, nothing, or a refusal.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic x", "", "Bearer", strings.Repeat("B", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		tok, err := signin.Bearer(r)
		if err != nil && !signin.IsRefused(err) {
			t.Fatalf("Bearer(%q) = %v, not a refusal", h, err)
		}
		if len(tok) > signin.MaxIDTokenLen {
			t.Fatalf("Bearer gave a %d-byte token", len(tok))
		}
	})
}
