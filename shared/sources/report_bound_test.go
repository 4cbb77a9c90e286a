package sources

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
)

// TestReportBodyBound: a YouTube or GA4 report body of exactly maxReportBytes is read whole, on
// the buffered path (capturingTransport) and the streamed one (ga4BodyReader); one byte more
// fails permanently as responseTooLarge.
func TestReportBodyBound(t *testing.T) {
	for _, size := range []int{maxReportBytes, maxReportBytes + 1} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, io.LimitReader(spaces{}, int64(size)))
		}))
		tr := &capturingTransport{tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), base: http.DefaultTransport, api: "youtube analytics"}
		ex := &exchange{}
		req, _ := http.NewRequestWithContext(withExchange(t.Context(), ex), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		var se *Error
		switch {
		case size == maxReportBytes && (err != nil || len(ex.body) != size):
			t.Errorf("buffered body of %d bytes: %v, kept %d bytes; want it whole", size, err, len(ex.body))
		case size > maxReportBytes && (!errors.As(err, &se) || se.Kind != Permanent || se.Reason != "responseTooLarge"):
			t.Errorf("buffered body of %d bytes: %v, want a permanent responseTooLarge", size, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		srv.Close()

		in := &ga4BodyReader{r: io.LimitReader(spaces{}, int64(size)), left: maxReportBytes, progress: func() {}}
		n, err := io.Copy(io.Discard, in)
		switch {
		case size == maxReportBytes && (err != nil || n != int64(size)):
			t.Errorf("streamed body of %d bytes: read %d, %v; want it whole", size, n, err)
		case size > maxReportBytes && !errors.Is(err, errGA4ResponseTooLarge):
			t.Errorf("streamed body of %d bytes: read %d, %v; want %v", size, n, err, errGA4ResponseTooLarge)
		}
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
