package streamtweets

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// KindUnclassified is the kind attribute of a message event.XAttributes could not classify.
const KindUnclassified = event.Unclassified

// langNone is the DroppedByLang key of tweets that carry no language.
const langNone = "none"

// pendingCap bounds the publish results awaiting confirmation in the collector's queue; the
// publisher's own flow control bounds the bytes.
const pendingCap = 1024

// run is one run's message handling: classify, filter, publish, and count.
type run struct {
	s      *Streamer
	log    *slog.Logger
	counts *counters

	// pubCtx bounds publishing and the wait for confirmations: past the read deadline by the
	// flush timeout, so that messages read at the last moment still go out.
	pubCtx    context.Context
	cancelPub context.CancelFunc
	pending   chan pending
	collected chan struct{}
	// seen are the tweet ids this run has handled, when reconnects backfill (nil otherwise).
	seen *seenIDs
}

// pending is one published message awaiting Pub/Sub's confirmation.
type pending struct {
	res   Confirmation
	data  []byte
	attrs map[string]string
}

func newRun(s *Streamer, client *xstream.Client, readDeadline time.Time, log *slog.Logger) *run {
	// Not the request's context: a message read before the request ended must still be published.
	pubCtx, cancel := context.WithDeadline(context.Background(), readDeadline.Add(s.set.FlushTimeout))
	r := &run{
		s: s, log: log, counts: newCounters(),
		pubCtx: pubCtx, cancelPub: cancel,
		pending:   make(chan pending, pendingCap),
		collected: make(chan struct{}),
	}
	if s.set.BackfillMinutes > 0 {
		// A reconnect replays up to BackfillMinutes; remember a minute more than that.
		r.seen = newSeenIDs(time.Duration(s.set.BackfillMinutes+1) * time.Minute)
	}
	prev := client.OnReject
	client.OnReject = func(rej xstream.Rejected) {
		r.counts.add(func(c *counters) { c.rejected++ })
		// The bytes cannot be recovered (X does not replay), so they are logged for the record.
		log.Warn("x stream line rejected, not published", "reason", rej.Reason, "line", string(rej.Data))
		if prev != nil {
			prev(rej)
		}
	}
	go r.collect()
	return r
}

// handle classifies one message and publishes it unless the language filter drops it. It never
// returns an error: an error would stop the stream, and every message is either published or
// counted.
func (r *run) handle(m xstream.Message) error {
	x, attrs, err := event.XAttributes(m.Data, event.SourceXStream)
	if err != nil {
		r.counts.add(func(c *counters) { c.unclassified++ })
		r.log.Warn("x stream message not classified, publishing it as unclassified", "error", err, "data", string(m.Data))
		attrs = event.Attributes(KindUnclassified, event.SourceXStream, "", "")
	} else if x.Tweet != nil && r.s.langs != nil && !r.s.langs[strings.ToLower(x.Lang)] {
		lang := x.Lang
		if lang == "" {
			lang = langNone
		}
		r.counts.add(func(c *counters) { c.droppedByLang[lang]++ })
		return nil
	}
	if r.seen != nil && x != nil && x.Tweet != nil && !r.seen.add(x.Tweet.ID, time.Now()) {
		// Sent again by a backfilled reconnect: published once per run. Across runs the
		// dedup views absorb it.
		r.counts.add(func(c *counters) { c.duplicates++ })
		return nil
	}
	res := r.s.pub.Publish(r.pubCtx, publish.Message{Data: m.Data, Attributes: attrs})
	r.pending <- pending{res: res, data: m.Data, attrs: attrs}
	return nil
}

// collect waits for each publish's confirmation, in order, and counts it.
func (r *run) collect() {
	defer close(r.collected)
	for p := range r.pending {
		_, err := p.res.Get(r.pubCtx)
		if err != nil {
			r.counts.add(func(c *counters) { c.publishFailed++ })
			r.log.Error("publishing an x stream message failed", "error", err,
				"kind", p.attrs[event.AttrKind], "attributes", p.attrs, "data", string(p.data))
			continue
		}
		kind := p.attrs[event.AttrKind]
		r.counts.add(func(c *counters) { c.published++; c.byKind[kind]++ })
	}
}

// flush waits until every message handed to Publish is confirmed or has failed, at most until
// the flush deadline. Call it once, after the stream has returned.
func (r *run) flush() {
	close(r.pending)
	<-r.collected
	r.cancelPub()
}

// seenIDs remembers ids for a while: the ids handled in the last window.
type seenIDs struct {
	window time.Duration
	at     map[string]time.Time
	order  []seenID // in handling order, for expiry
}

type seenID struct {
	id string
	at time.Time
}

func newSeenIDs(window time.Duration) *seenIDs {
	return &seenIDs{window: window, at: map[string]time.Time{}}
}

// add records id at now and reports whether it is new within the window. Called from the one
// stream goroutine.
func (s *seenIDs) add(id string, now time.Time) bool {
	for len(s.order) > 0 && now.Sub(s.order[0].at) > s.window {
		if s.at[s.order[0].id].Equal(s.order[0].at) {
			delete(s.at, s.order[0].id)
		}
		s.order = s.order[1:]
	}
	if _, ok := s.at[id]; ok {
		return false
	}
	s.at[id] = now
	s.order = append(s.order, seenID{id, now})
	return true
}
