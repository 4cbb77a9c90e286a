package ga4

import (
	"errors"
	"io"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestStreamedBodyBound: a streamed runReport page of exactly sources.MaxReportBytes is read
// whole (ga4BodyReader); one byte more fails with errGA4ResponseTooLarge.
func TestStreamedBodyBound(t *testing.T) {
	for _, size := range []int{sources.MaxReportBytes, sources.MaxReportBytes + 1} {
		in := &ga4BodyReader{r: io.LimitReader(spaces{}, int64(size)), left: sources.MaxReportBytes, progress: func() {}}
		n, err := io.Copy(io.Discard, in)
		switch {
		case size == sources.MaxReportBytes && (err != nil || n != int64(size)):
			t.Errorf("streamed body of %d bytes: read %d, %v; want it whole", size, n, err)
		case size > sources.MaxReportBytes && !errors.Is(err, errGA4ResponseTooLarge):
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
