package collectevents

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

// countingReader yields n bytes of an endless JSON array and counts what was read from it.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range n {
		p[i] = ' '
	}
	if r.read.Load() == 0 && n > 0 {
		p[0] = '['
	}
	r.left -= n
	r.read.Add(n)
	return int(n), nil
}

func TestCollectorRefusesHugeBodyWithoutReadingIt(t *testing.T) {
	const size = 10 << 20
	tests := []struct {
		name          string
		contentLength int64 // -1: unknown, as with chunked encoding
		maxRead       int64
	}{
		// A declared length over the limit is refused before the first byte is read.
		{name: "declared length", contentLength: size, maxRead: 0},
		// An undeclared length is read only up to the limit (and one byte to see it is over).
		{name: "chunked", contentLength: -1, maxRead: DefaultMaxBodyBytes + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingReader{left: size}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			req.ContentLength = tt.contentLength
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			logger, _ := functest.Logger()
			c := NewCollector(&recordingPublisher{}, nil, nil, logger, Limits{})
			c.ServeHTTP(rec, req)

			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want %d", rec.Code, http.StatusRequestEntityTooLarge)
			}
			var got ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !strings.Contains(got.Error, "over the limit of 5242880 bytes") {
				t.Errorf("body = %s (%v), want an error naming the limit of 5242880 bytes", rec.Body, err)
			}
			if n := body.read.Load(); n > tt.maxRead {
				t.Errorf("read %d bytes of the %d-byte body, want at most %d", n, size, tt.maxRead)
			}
		})
	}
}
