package collectevents

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// Publisher publishes messages to the events topic; shared/publish.Publisher is the production one.
type Publisher interface {
	// PublishAll publishes msgs and returns one error per message, nil for a published one.
	PublishAll(ctx context.Context, msgs []publish.Message) []error
}

// Limits bound what one request may carry.
type Limits struct {
	// MaxBodyBytes is the largest body read; a larger one is answered 413.
	MaxBodyBytes int64
	// MaxEvents is the largest number of events; more are answered 413.
	MaxEvents int
}

// Collector is the CollectEvents handler: it validates the events of a request, drops those
// already published, publishes the rest and answers what became of each.
type Collector struct {
	pub    Publisher
	dedup  Deduper
	now    func() time.Time
	log    *slog.Logger
	limits Limits
	gate   *Gate // nil: IAM alone decides who may call
}

// WithGate makes c check write keys, origins and rates through g, and answer CORS.
func (c *Collector) WithGate(g *Gate) *Collector {
	c.gate = g
	return c
}

// NewCollector returns a Collector publishing through pub. dedup may be nil (no dedup across
// requests), now nil means time.Now, logger nil means slog.Default(), and zero limits take the
// defaults.
func NewCollector(pub Publisher, dedup Deduper, now func() time.Time, logger *slog.Logger, limits Limits) *Collector {
	if dedup == nil {
		dedup = noDedup{}
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	limits.MaxBodyBytes = cmp.Or(limits.MaxBodyBytes, DefaultMaxBodyBytes)
	limits.MaxEvents = cmp.Or(limits.MaxEvents, DefaultMaxEvents)
	return &Collector{pub: pub, dedup: dedup, now: now, log: logger, limits: limits}
}

// noDedup is the Deduper that has seen nothing.
type noDedup struct{}

func (noDedup) Seen(context.Context, []Key, time.Time) (map[Key]bool, error) { return nil, nil }
func (noDedup) Mark(context.Context, []Key, time.Time) error                 { return nil }

// ServeHTTP handles one request and writes one summary log line for it.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isScript(r) {
		serveScript(w, r)
		return
	}
	start := time.Now()
	var resp *Response
	var reqErr *requestError
	if r.Method == http.MethodOptions {
		if reqErr = c.gate.preflight(r.Context(), w, r); reqErr == nil {
			return
		}
	} else {
		resp, reqErr = c.collect(w, r)
	}
	status := http.StatusOK
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("content_type", r.Header.Get("Content-Type")),
		slog.Int64("content_length", r.ContentLength),
	}
	level := slog.LevelInfo
	if reqErr != nil {
		status = reqErr.status
		level = slog.LevelWarn
		writeJSON(w, status, ErrorResponse{Error: reqErr.msg})
		attrs = append(attrs, slog.String("error", reqErr.msg))
	} else {
		if resp.Failed > 0 {
			// The only retryable outcome: 503 tells the app to send again the events whose
			// result is "failed" (and only those: an accepted event without an id would be
			// published twice). Accepted events are still answered in the body.
			status = http.StatusServiceUnavailable
			level = slog.LevelWarn
		}
		writeJSON(w, status, resp)
		attrs = append(attrs, slog.Int("events", len(resp.Results)), slog.Int("accepted", resp.Accepted),
			slog.Int("rejected", resp.Rejected), slog.Int("duplicates", resp.Duplicates), slog.Int("failed", resp.Failed))
	}
	attrs = append(attrs, slog.Int("status", status), slog.Duration("elapsed", time.Since(start)))
	c.log.LogAttrs(r.Context(), level, "collected events", attrs...)
}

// collect reads and processes the request; a non-nil requestError means nothing was processed.
// The body is read one event at a time, each validated as it comes, and only the valid events'
// bytes are kept: nothing is published before the whole body has been read, because a body
// found malformed or too large at its end is refused as a whole.
func (c *Collector) collect(w http.ResponseWriter, r *http.Request) (*Response, *requestError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, requestErrorf(http.StatusMethodNotAllowed, "method %s not allowed: POST the events", r.Method)
	}
	g, reqErr := c.gate.authorize(r.Context(), w, r)
	if reqErr != nil {
		return nil, reqErr
	}
	mt, reqErr := mediaType(r)
	if reqErr != nil {
		return nil, reqErr
	}
	src, reqErr := openBody(w, r, mt, c.limits.MaxBodyBytes, c.limits.MaxEvents)
	if reqErr != nil {
		return nil, reqErr
	}
	now := c.now()
	resp := &Response{Results: []Result{}}
	var cands []candidate
	firstByKey := make(map[Key]int)
	for i := 0; ; i++ {
		data, size, reqErr := src.next()
		if reqErr != nil {
			return nil, reqErr
		}
		if data == nil && size == 0 {
			break
		}
		res := Result{Index: i}
		if cd, ok := c.check(data, size, now, g.app, &res, firstByKey); ok {
			cands = append(cands, cd)
		}
		resp.Results = append(resp.Results, res)
	}
	c.process(r.Context(), resp, cands, now)
	return resp, nil
}

// candidate is a valid event that may be published: only what publishing and dedup need, so
// that the parsed event (its properties a second copy of its bytes) is not kept.
type candidate struct {
	index int
	key   Key
	attrs map[string]string
	data  []byte
}

// check parses one event of size bytes (data is shorter when the event was too long to keep),
// fills in its result, and returns it as a candidate unless it is invalid or repeats the app and
// id of an earlier event of the request. app is the app the request's write key sends for
// ("" for an IAM caller, who may send for any app): an event naming another app is rejected,
// and one naming none becomes that app's.
func (c *Collector) check(data []byte, size int64, now time.Time, app string, res *Result, firstByKey map[Key]int) (candidate, bool) {
	var ev *event.AppEvent
	var err error
	if size > int64(len(data)) {
		err = event.AppEventTooLarge(size)
	} else {
		ev, err = event.ParseAppEvent(data, now)
	}
	if ev != nil {
		res.ID = ev.ID
	}
	if err != nil {
		res.Status = StatusRejected
		var ie *event.InvalidError
		if errors.As(err, &ie) {
			res.Field, res.Reason = ie.Field, ie.Reason
		} else {
			res.Reason = err.Error()
		}
		return candidate{}, false
	}
	if app != "" && ev.App != "" && ev.App != app {
		res.Status, res.Field = StatusRejected, "app"
		res.Reason = fmt.Sprintf("this write key sends events of app %q only", app)
		return candidate{}, false
	}
	if app != "" {
		ev.App = app
	}
	key := Key{App: ev.AppName(), ID: ev.ID}
	if ev.ID != "" {
		if first, dup := firstByKey[key]; dup {
			res.Status = StatusDuplicate
			res.Reason = fmt.Sprintf("same app and id as event %d of this request", first)
			return candidate{}, false
		}
		firstByKey[key] = res.Index
	}
	return candidate{index: res.Index, key: key, attrs: event.AppAttributes(ev), data: bytes.Clone(data)}, true
}

// process dedups and publishes the candidates and fills in their results and the totals.
func (c *Collector) process(ctx context.Context, resp *Response, cands []candidate, now time.Time) {
	cands = c.dropSeen(ctx, cands, now, resp.Results)
	published := c.publish(ctx, cands, resp.Results)
	if err := c.dedup.Mark(ctx, published, now); err != nil {
		// The events are published; a resend may publish them again, and the loader's dedup
		// view absorbs that. Failing the request instead would make the app resend them all.
		c.log.WarnContext(ctx, "marking published event ids seen; a resend may publish duplicates", "error", err)
	}
	resp.count()
}

// dropSeen marks the candidates whose app and id were already published as duplicates and
// returns the rest. When the seen ids cannot be read, every candidate goes ahead: publishing a
// duplicate, which the loader absorbs, is better than dropping an event.
func (c *Collector) dropSeen(ctx context.Context, cands []candidate, now time.Time, results []Result) []candidate {
	var keys []Key
	for _, cd := range cands {
		if cd.key.ID != "" {
			keys = append(keys, cd.key)
		}
	}
	if len(keys) == 0 {
		return cands
	}
	seen, err := c.dedup.Seen(ctx, keys, now)
	if err != nil {
		c.log.WarnContext(ctx, "reading seen event ids; publishing all events of the request", "ids", len(keys), "error", err)
		return cands
	}
	out := cands[:0]
	for _, cd := range cands {
		if seen[cd.key] {
			results[cd.index].Status = StatusDuplicate
			results[cd.index].Reason = "an event of this app with this id was already received"
			continue
		}
		out = append(out, cd)
	}
	return out
}

// publish publishes the candidates and returns the keys of those published.
func (c *Collector) publish(ctx context.Context, cands []candidate, results []Result) []Key {
	if len(cands) == 0 {
		return nil
	}
	msgs := make([]publish.Message, len(cands))
	for i, cd := range cands {
		msgs[i] = publish.Message{Data: cd.data, Attributes: cd.attrs}
	}
	errs := c.pub.PublishAll(ctx, msgs)
	var published []Key
	var firstErr error
	for i, cd := range cands {
		err := errors.New("publisher returned no result for this message")
		if i < len(errs) {
			err = errs[i]
		}
		res := &results[cd.index]
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			res.Status = StatusFailed
			res.Reason = "publishing failed; send the event again"
			continue
		}
		res.Status = StatusAccepted
		if cd.key.ID != "" {
			published = append(published, cd.key)
		}
	}
	if firstErr != nil {
		c.log.WarnContext(ctx, "publishing events", "events", len(cands), "error", firstErr)
	}
	return published
}
