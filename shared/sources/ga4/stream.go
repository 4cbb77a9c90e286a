package ga4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"

	"google.golang.org/api/googleapi"
)

// Bounds of a streamed GA4 report. A page's body is decoded as it arrives and its records leave
// in batches, so what a task holds does not grow with the page or the report.
const (
	// GA4PageRows is the most rows one runReport asks for, whatever the query's Limit: a Limit
	// over it (up to GA4MaxLimit) is read in pages of GA4PageRows. Memory does not depend on it;
	// it bounds what one request costs to send again when it fails partway and how long it holds
	// a connection (about 20 MB of body at 9 dimensions and 10 metrics).
	GA4PageRows = 50_000
	// GA4MaxRowBytes bounds one row of a body, as its bytes in the body: a row of 9 dimensions
	// and 10 metrics is a few hundred bytes. A row over it fails the task (Permanent,
	// badResponse); any other value over ga4MaxValueBytes does too.
	GA4MaxRowBytes = 256 << 10
	// ga4MaxValueBytes bounds what the decoder reads for any one value (see ga4Budget).
	ga4MaxValueBytes = 4 * GA4MaxRowBytes
	// GA4BatchRows and GA4BatchBytes bound one batch of records handed to the sink: well inside
	// one Storage Write API append request ("The size of a single AppendRowsRequest must be less
	// than 10 MB", https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1#appendrowsrequest),
	// and the warehouse writer's own 500 rows and 4 MiB a request. Bytes are the rows' bytes in
	// the body.
	GA4BatchRows  = 500
	GA4BatchBytes = 1 << 20
	// ga4ErrorBodyBytes bounds the error body read for its reason.
	ga4ErrorBodyBytes = 1 << 20
	// ga4RawChunk is the size of the raw body pieces handed to GA4Sink.Body.
	ga4RawChunk = 64 << 10
)

// GA4Sink receives a report as Stream reads it. Its errors end the stream and are returned by
// Stream as they are.
type GA4Sink struct {
	// Records receives the typed records (as GA4Pager's) in report order, at most GA4BatchRows
	// and about GA4BatchBytes at a time; first is the index of recs[0] in the report. Rows
	// leave before their page's body ends, so their "sampled" flag is Stream's sampled
	// argument, checked against each page's metadata when the page ends.
	Records func(first int, recs []map[string]any) error
	// Body, when set, receives each page's body as received, in pieces, in order; EndPage
	// follows a page's last piece.
	Body    func(p []byte) error
	EndPage func() error
}

// GA4Summary is what a streamed report came to.
type GA4Summary struct {
	// APICalls counts runReport requests sent (a retried 401 included).
	APICalls int
	// Pages and Rows are the pages and records read.
	Pages, Rows int
	// Quota is the pages' propertyQuota: consumed summed, remaining from the last page.
	Quota *GA4Quota
}

// GA4SamplingError says a page's metadata, which follows its rows, contradicts the sampled flag
// its rows were handed on with. Sampled is the page's.
type GA4SamplingError struct{ Sampled bool }

func (e *GA4SamplingError) Error() string {
	return fmt.Sprintf("the report's sampling (sampled=%t) is known only after its rows, which went out with sampled=%t", e.Sampled, !e.Sampled)
}

// GA4RequestRows is the limit each runReport of q asks for: q.Limit (GA4DefaultLimit when 0)
// capped at GA4PageRows.
func GA4RequestRows(q GA4Query) int {
	limit := q.Limit
	if limit == 0 {
		limit = GA4DefaultLimit
	}
	return min(limit, GA4PageRows)
}

// Stream runs q page by page, as Report does, but decodes each body as it arrives and hands its
// records to sink in batches: what it holds is bounded by GA4MaxRowBytes, GA4BatchRows and
// GA4BatchBytes, not by the page. sampled is the "sampled" flag records carry; a page whose
// metadata says otherwise ends the stream with a Transient *Error wrapping *GA4SamplingError
// (the caller starts over with the page's value). Errors are *Error, except the sink's.
func (g *GA4) Stream(ctx context.Context, q GA4Query, sampled bool, sink GA4Sink) (GA4Summary, error) {
	var sum GA4Summary
	if err := q.validate(); err != nil {
		return sum, &sources.Error{Kind: sources.Permanent, Reason: "invalidQuery", Err: fmt.Errorf("validating ga4 query: %w", err)}
	}
	limit := GA4RequestRows(q)
	var rowCount int64
	retried401 := false
	for {
		ex := &sources.Exchange{Stream: true}
		page, err := g.streamPage(ctx, q, sum.Rows, limit, sampled, sink, ex)
		if ex.Sent {
			sum.APICalls++
		}
		var se *sources.Error
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized && !retried401 && g.cache != nil {
			retried401 = true
			g.log.WarnContext(ctx, "ga4 rejected the access token; refreshing and retrying once", "property", q.Property)
			g.cache.Invalidate(ex.Token)
			continue
		}
		if err != nil {
			if errors.As(err, &se) {
				se.APICalls = sum.APICalls
			}
			return sum, err
		}
		if sum.Pages == 0 && page.rowCount != nil {
			rowCount = *page.rowCount
		}
		sum.Pages++
		sum.Rows += page.rows
		sum.Quota = addQuota(sum.Quota, page.quota)
		if page.rows == 0 || int64(sum.Rows) >= rowCount {
			return sum, nil
		}
	}
}

// streamPage sends one runReport and streams its answer. A 2xx body is decoded by a
// ga4PageDecoder; anything else is classified as Report's errors are.
func (g *GA4) streamPage(ctx context.Context, q GA4Query, offset, limit int, sampled bool, sink GA4Sink, ex *sources.Exchange) (ga4Page, error) {
	// The attempt's timeout bounds the API's silence (time to the headers, then between reads),
	// not the sink's work: the clock stops while the sink writes.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(g.timeout, func() { cancel(errGA4Stalled) })
	defer stall.Stop()
	resp, err := g.post(sources.WithExchange(ctx, ex), q, offset, limit)
	if err != nil {
		return ga4Page{}, g.streamError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, ga4ErrorBodyBytes))
		return ga4Page{}, g.classify(googleapi.CheckResponseWithBody(resp, body))
	}
	pause := func(f func() error) error {
		stall.Stop()
		defer stall.Reset(g.timeout)
		return f()
	}
	in := &ga4BodyReader{r: resp.Body, left: sources.MaxReportBytes, progress: func() { stall.Reset(g.timeout) }}
	tee := &ga4Tee{r: in, sink: sink.Body, pause: pause}
	d := newGA4PageDecoder(tee, sampled, limit, func(first int, recs []map[string]any) error {
		return pause(func() error { return sink.Records(offset+first, recs) })
	})
	page, err := d.decode()
	switch {
	case tee.sinkErr != nil:
		return page, tee.sinkErr
	case d.sinkErr != nil:
		return page, d.sinkErr
	case in.err != nil:
		// The wire failed (a reset, a cut, the stall timer): the same answer as a failed read.
		return page, g.streamError(ctx, in.err)
	case err != nil:
		return page, &sources.Error{Kind: sources.Permanent, Status: resp.StatusCode, Reason: ga4ErrReason(err),
			Err: fmt.Errorf("decoding ga4 report at offset %d: %w", offset, err)}
	}
	if err := tee.finish(); err != nil {
		if tee.sinkErr != nil {
			return page, tee.sinkErr
		}
		return page, g.streamError(ctx, err)
	}
	if sink.EndPage != nil {
		if err := pause(sink.EndPage); err != nil {
			return page, err
		}
	}
	if page.rows > 0 && page.sampled != sampled {
		return page, &sources.Error{Kind: sources.Transient, Status: resp.StatusCode, Reason: "samplingChanged", Err: &GA4SamplingError{Sampled: page.sampled}}
	}
	return page, nil
}

var errGA4Stalled = errors.New("the ga4 api sent nothing for the attempt's timeout")

// errGA4ResponseTooLarge is a page body over MaxReportBytes.
var errGA4ResponseTooLarge = fmt.Errorf("ga4 response over %d bytes", sources.MaxReportBytes)

// errGA4RowTooLarge is a row over GA4MaxRowBytes (or another value over ga4MaxValueBytes).
var errGA4RowTooLarge = fmt.Errorf("over the %d bytes a ga4 row may take", GA4MaxRowBytes)

func ga4ErrReason(err error) string {
	if errors.Is(err, errGA4ResponseTooLarge) {
		return "responseTooLarge"
	}
	return "badResponse"
}

// streamError classifies a failure to send or read, naming the stall timer as a timeout.
func (g *GA4) streamError(ctx context.Context, err error) *sources.Error {
	if errors.Is(context.Cause(ctx), errGA4Stalled) {
		return &sources.Error{Kind: sources.Transient, Reason: "timeout", Err: fmt.Errorf("ga4 runReport: %w: %w", errGA4Stalled, err)}
	}
	if errors.Is(err, errGA4ResponseTooLarge) {
		return &sources.Error{Kind: sources.Permanent, Status: http.StatusOK, Reason: "responseTooLarge", Err: err}
	}
	return g.classify(err)
}

// post sends the runReport request the generated client sends (its URL, body and headers: see
// PropertiesRunReportCall.doRequest), through the same authorizing transport, but hands back
// the response unread: the generated Do reads and decodes the whole body first.
func (g *GA4) post(ctx context.Context, q GA4Query, offset, limit int) (*http.Response, error) {
	body, err := json.Marshal(runReportRequest(q, offset, limit))
	if err != nil {
		return nil, fmt.Errorf("encoding the ga4 request: %w", err)
	}
	u := googleapi.ResolveRelative(g.svc.BasePath, "v1beta/{+property}:runReport") + "?alt=json&prettyPrint=false"
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building the ga4 request: %w", err)
	}
	googleapi.Expand(hr.URL, map[string]string{"property": q.Property})
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", googleapi.UserAgent)
	return g.client.Do(hr)
}

// ga4BodyReader reads a page's body: it counts the bytes against the page's cap, reports
// progress, and keeps the wire's own error apart from the decoder's.
type ga4BodyReader struct {
	r        io.Reader
	left     int64
	progress func()
	err      error // a read error other than EOF, or errGA4ResponseTooLarge
}

func (b *ga4BodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// One byte past the cap says the body is over it (and not exactly at it).
		var one [1]byte
		if n, _ := io.ReadFull(b.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		b.err = errGA4ResponseTooLarge
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if n > 0 {
		b.progress()
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// ga4Tee hands the bytes read through it to sink in pieces of ga4RawChunk.
type ga4Tee struct {
	r       io.Reader
	sink    func([]byte) error
	pause   func(func() error) error
	buf     []byte
	sinkErr error
}

func (t *ga4Tee) Read(p []byte) (int, error) {
	if t.sinkErr != nil {
		return 0, t.sinkErr
	}
	n, err := t.r.Read(p)
	if t.sink != nil && n > 0 {
		t.buf = append(t.buf, p[:n]...)
		if len(t.buf) >= ga4RawChunk {
			if ferr := t.flush(); ferr != nil {
				return n, ferr
			}
		}
	}
	return n, err
}

func (t *ga4Tee) flush() error {
	if len(t.buf) == 0 || t.sink == nil {
		return nil
	}
	if err := t.pause(func() error { return t.sink(t.buf) }); err != nil {
		t.sinkErr = err
		return err
	}
	t.buf = t.buf[:0]
	return nil
}

// finish reads what follows the decoded object (whitespace) so the raw page is whole, and hands
// on the last piece.
func (t *ga4Tee) finish() error {
	if _, err := io.Copy(io.Discard, t); err != nil {
		return err
	}
	return t.flush()
}
