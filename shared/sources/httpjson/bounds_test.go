package httpjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// TestHTTPJSONResponseBound: a response of exactly MaxBytes is read; one byte more fails the
// task permanently, saying so.
func TestHTTPJSONResponseBound(t *testing.T) {
	body := `{"data":{"items":[{"id":"` + strings.Repeat("x", 200) + `"}]}}`
	srv := fixedServer(t, 200, map[string]string{"Content-Type": "application/json"}, body)
	for _, tc := range []struct {
		max     int64
		wantErr string
	}{
		{int64(len(body)), ""},
		{int64(len(body)) - 1, "response over"},
	} {
		h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy, MaxBytes: tc.max})
		res, err := h.Fetch(t.Context(), httpjson.HTTPJSONRequest{URL: srv.URL, RecordsPath: "data.items"})
		var se *sources.Error
		switch {
		case tc.wantErr == "" && (err != nil || len(res.Records) != 1):
			t.Errorf("MaxBytes %d, body %d: Fetch() = %v, want the record", tc.max, len(body), err)
		case tc.wantErr != "" && (!errors.As(err, &se) || se.Kind != sources.Permanent || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("MaxBytes %d, body %d: Fetch() = %v, want a permanent error: %s", tc.max, len(body), err, tc.wantErr)
		}
	}
}
