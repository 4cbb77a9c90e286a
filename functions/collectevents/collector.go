package collectevents

import (
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

func (noDedup) Seen(context.Context, []string, time.Time) (map[string]bool, error) { return nil, nil }
func (noDedup) Mark(context.Context, []string, time.Time) error                    { return nil }

// ServeHTTP handles one request and writes one summary log line for it.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	resp, reqErr := c.collect(w, r)
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
func (c *Collector) collect(w http.ResponseWriter, r *http.Request) (*Response, *requestError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, requestErrorf(http.StatusMethodNotAllowed, "method %s not allowed: POST the events", r.Method)
	}
	mt, reqErr := mediaType(r)
	if reqErr != nil {
		return nil, reqErr
	}
	body, reqErr := readBody(w, r, c.limits.MaxBodyBytes)
	if reqErr != nil {
		return nil, reqErr
	}
	var items [][]byte
	if mt == contentTypeNDJSON {
		items, reqErr = splitNDJSON(body, c.limits.MaxEvents)
	} else {
		items, reqErr = splitJSON(body, c.limits.MaxEvents)
	}
	if reqErr != nil {
		return nil, reqErr
	}
	return c.process(r.Context(), items), nil
}

// candidate is a valid event that may be published.
type candidate struct {
	index int
	event *event.AppEvent
	data  []byte
}

// process validates, dedups and publishes the events, and returns one result per event.
func (c *Collector) process(ctx context.Context, items [][]byte) *Response {
	now := c.now()
	resp := &Response{Results: make([]Result, len(items))}
	candidates := c.validate(items, now, resp.Results)
	candidates = c.dropSeen(ctx, candidates, now, resp.Results)
	published := c.publish(ctx, candidates, resp.Results)
	if err := c.dedup.Mark(ctx, published, now); err != nil {
		// The events are published; a resend may publish them again, and the loader's dedup
		// view absorbs that. Failing the request instead would make the app resend them all.
		c.log.WarnContext(ctx, "marking published event ids seen; a resend may publish duplicates", "error", err)
	}
	resp.count()
	return resp
}

// validate parses each event, rejecting invalid ones and the repeats of an id within the
// request, and returns the rest.
func (c *Collector) validate(items [][]byte, now time.Time, results []Result) []candidate {
	var out []candidate
	firstByID := make(map[string]int)
	for i, data := range items {
		res := &results[i]
		res.Index = i
		ev, err := event.ParseAppEvent(data, now)
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
			continue
		}
		if ev.ID != "" {
			if first, dup := firstByID[ev.ID]; dup {
				res.Status = StatusDuplicate
				res.Reason = fmt.Sprintf("same id as event %d of this request", first)
				continue
			}
			firstByID[ev.ID] = i
		}
		out = append(out, candidate{index: i, event: ev, data: data})
	}
	return out
}

// dropSeen marks the candidates whose id was already published as duplicates and returns the
// rest. When the seen ids cannot be read, every candidate goes ahead: publishing a duplicate,
// which the loader absorbs, is better than dropping an event.
func (c *Collector) dropSeen(ctx context.Context, cands []candidate, now time.Time, results []Result) []candidate {
	var ids []string
	for _, cd := range cands {
		if cd.event.ID != "" {
			ids = append(ids, cd.event.ID)
		}
	}
	if len(ids) == 0 {
		return cands
	}
	seen, err := c.dedup.Seen(ctx, ids, now)
	if err != nil {
		c.log.WarnContext(ctx, "reading seen event ids; publishing all events of the request", "ids", len(ids), "error", err)
		return cands
	}
	out := cands[:0]
	for _, cd := range cands {
		if seen[cd.event.ID] {
			results[cd.index].Status = StatusDuplicate
			results[cd.index].Reason = "an event with this id was already received"
			continue
		}
		out = append(out, cd)
	}
	return out
}

// publish publishes the candidates and returns the ids of those published.
func (c *Collector) publish(ctx context.Context, cands []candidate, results []Result) []string {
	if len(cands) == 0 {
		return nil
	}
	msgs := make([]publish.Message, len(cands))
	for i, cd := range cands {
		msgs[i] = publish.Message{
			Data:       cd.data,
			Attributes: event.Attributes(cd.event.ContractKind(), event.SourceApp, "", cd.event.ID),
		}
	}
	errs := c.pub.PublishAll(ctx, msgs)
	var published []string
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
		if cd.event.ID != "" {
			published = append(published, cd.event.ID)
		}
	}
	if firstErr != nil {
		c.log.WarnContext(ctx, "publishing events", "events", len(cands), "error", firstErr)
	}
	return published
}
