package sources

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
)

// TestReportBodyBound: a Google API's report body of exactly MaxReportBytes is read whole on the
// buffered path (GoogleTransport); one byte more fails permanently as responseTooLarge. The
// streamed path has its own test in each source that streams (ga4's TestStreamedBodyBound).
func TestReportBodyBound(t *testing.T) {
	for _, size := range []int{MaxReportBytes, MaxReportBytes + 1} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, io.LimitReader(spaces{}, int64(size)))
		}))
		tr := &GoogleTransport{Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), Base: http.DefaultTransport, API: "an api"}
		ex := &Exchange{}
		req, _ := http.NewRequestWithContext(WithExchange(t.Context(), ex), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		var se *Error
		switch {
		case size == MaxReportBytes && (err != nil || len(ex.Body) != size):
			t.Errorf("buffered body of %d bytes: %v, kept %d bytes; want it whole", size, err, len(ex.Body))
		case size > MaxReportBytes && (!errors.As(err, &se) || se.Kind != Permanent || se.Reason != "responseTooLarge"):
			t.Errorf("buffered body of %d bytes: %v, want a permanent responseTooLarge", size, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		srv.Close()
	}
}

// spaces is an endless reader of spaces (valid JSON whitespace, cheap to make).
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
