package collectevents

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// sized returns a search event of exactly n bytes, padded in properties.
func sized(id string, n int) string {
	head := `{"id":"` + id + `","kind":"search","query":"q","properties":{"p":"`
	return head + strings.Repeat("x", n-len(head)-3) + `"}}`
}

// serve sends one request to a collector without dedup and returns the answer.
func serve(t *testing.T, limits Limits, contentType string, body io.Reader, contentLength int64) (int, reply) {
	t.Helper()
	logger, _ := functest.Logger()
	c := NewCollector(&recordingPublisher{}, nil, nil, logger, limits)
	req := httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = contentLength
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	var got reply
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decoding response %q: %v", rec.Body, err)
	}
	return rec.Code, got
}

// TestBodyCap: a body of exactly MaxBodyBytes is read, one byte more is 413 naming the limit,
// whether its length is declared or not (chunked).
func TestBodyCap(t *testing.T) {
	const max = 4096
	ev := sized("a", 1000)
	atCap := "[" + ev + strings.Repeat(" ", max-len(ev)-2) + "]"
	for _, declared := range []bool{true, false} {
		for _, tt := range []struct {
			body       string
			wantStatus int
			want       reply
		}{
			{atCap, http.StatusOK, reply{Response: Response{Accepted: 1, Results: []Result{accepted(0, "a")}}}},
			{atCap + " ", http.StatusRequestEntityTooLarge, reply{Error: "body is over the limit of 4096 bytes"}},
		} {
			length := int64(-1)
			if declared {
				length = int64(len(tt.body))
			}
			code, got := serve(t, Limits{MaxBodyBytes: max}, jsonCT, strings.NewReader(tt.body), length)
			if code != tt.wantStatus {
				t.Errorf("%d bytes (declared %v): status = %d, want %d", len(tt.body), declared, code, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%d bytes (declared %v): response mismatch (-want +got):\n%s", len(tt.body), declared, diff)
			}
		}
	}
}

// TestEventSizeBound: an event of exactly event.MaxAppEventBytes is accepted and one byte more
// is rejected with its size, in an array and as an NDJSON line, however much space surrounds it;
// the events after a line too long to keep still go ahead.
func TestEventSizeBound(t *testing.T) {
	const max = event.MaxAppEventBytes
	atMax, overMax := sized("a", max), sized("b", max+1)
	huge := sized("h", 1<<20)
	pad := strings.Repeat(" ", 100<<10)
	tooBig := func(i int, size int) Result {
		return Result{Index: i, Status: StatusRejected, Reason: fmt.Sprintf("event is %d bytes, over the limit of %d", size, max)}
	}
	tests := []struct {
		name, contentType, body string
		want                    Response
	}{
		{"array", jsonCT, "[" + atMax + "," + overMax + "]",
			Response{Accepted: 1, Rejected: 1, Results: []Result{accepted(0, "a"), tooBig(1, max+1)}}},
		{"ndjson", ndjsonCT, atMax + "\n" + overMax + "\n" + huge + "\n" + search1,
			Response{Accepted: 2, Rejected: 2, Results: []Result{accepted(0, "a"), tooBig(1, max+1), tooBig(2, 1<<20), accepted(3, "s1")}}},
		{"ndjson padded with space", ndjsonCT, pad + atMax + pad + "\r\n" + pad + "\n" + "\t" + overMax + pad,
			Response{Accepted: 1, Rejected: 1, Results: []Result{accepted(0, "a"), tooBig(1, max+1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := serve(t, Limits{}, tt.contentType, strings.NewReader(tt.body), int64(len(tt.body)))
			if code != http.StatusOK {
				t.Errorf("status = %d, want 200", code)
			}
			if diff := cmp.Diff(reply{Response: tt.want}, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// heapProbe measures the live heap (after a collection) when a request's body has been read
// to its end and when its events are published: the two moments a request holds the most.
type heapProbe struct {
	r    io.Reader
	peak uint64
}

func (p *heapProbe) sample() {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	p.peak = max(p.peak, ms.HeapAlloc)
}

func (p *heapProbe) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF {
		p.sample()
	}
	return n, err
}

func (p *heapProbe) PublishAll(_ context.Context, msgs []publish.Message) []error {
	p.sample()
	return make([]error, len(msgs))
}

// TestRequestHoldsOneCopyOfItsEvents: a maximum-size request holds at most its valid events'
// bytes and a little more, never the body besides them nor a second (parsed) copy of them.
// Heap figures after a collection do not depend on timing.
func TestRequestHoldsOneCopyOfItsEvents(t *testing.T) {
	const size = DefaultMaxBodyBytes
	var b strings.Builder
	b.WriteString("[")
	each := size/DefaultMaxEvents - 1
	for i := range DefaultMaxEvents {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(sized(fmt.Sprint(i), each))
	}
	b.WriteString(strings.Repeat(" ", size-b.Len()-1) + "]")
	body := b.String()
	for _, ct := range []string{jsonCT, ndjsonCT} {
		data := body
		if ct == ndjsonCT {
			data = strings.NewReplacer("[", "", "]", "", "}},{", "}}\n{").Replace(body)
		}
		probe := &heapProbe{r: strings.NewReader(data)}
		c := NewCollector(probe, nil, nil, nil, Limits{})
		req := httptest.NewRequest(http.MethodPost, "/", probe)
		req.ContentLength = int64(len(data))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		probe.sample()
		before := probe.peak
		probe.peak = 0
		c.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"accepted":1000`) {
			t.Fatalf("%s: status %d, body %.200s; want 1000 accepted", ct, rec.Code, rec.Body)
		}
		held := int64(probe.peak) - int64(before)
		if limit := int64(size + size/4); held > limit {
			t.Errorf("%s: a request of %d bytes held %d bytes at its peak, want at most %d (its events and a quarter more)", ct, size, held, limit)
		}
		t.Logf("%s: %d-byte request held %d bytes at its peak", ct, size, held)
	}
}
