package warehouse

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limits of one coalesced append request: well inside the Storage Write API's 10 MB request.
const (
	maxBatchRows     = 500
	maxBatchBytes    = 4 << 20
	maxAppendsActive = 4
	appendTimeout    = 2 * time.Minute
)

// coalescer groups the rows of concurrent Append calls into shared append requests. Eventarc
// delivers one Pub/Sub message per request, and an instance serves many at once: one append per
// message would make the Storage Write API's per-request cost the limit. At most
// maxAppendsActive appends are in flight per table; calls that arrive meanwhile wait in the
// queue and leave together in the next request, so batches grow with the load and a lone call
// is sent at once.
type coalescer struct {
	send  func(ctx context.Context, data [][]byte) error
	slots chan struct{}

	mu    sync.Mutex
	queue []*waiter
}

type waiter struct {
	data [][]byte
	done chan error
}

func newCoalescer(send func(ctx context.Context, data [][]byte) error) *coalescer {
	return &coalescer{send: send, slots: make(chan struct{}, maxAppendsActive)}
}

// do appends data and returns its outcome: nil, *RowErrors with indexes into data, or a
// request's transient error. Data over one request's caps is sent in parts, one after the
// other, each under the caps (a part that fails stops the rest: the caller sends them all
// again, and the dedup views absorb the parts that landed twice).
func (c *coalescer) do(ctx context.Context, data [][]byte) error {
	for from := 0; from < len(data); {
		to, size := from, 0
		for to < len(data) && to-from < maxBatchRows && (to == from || size+len(data[to]) <= maxBatchBytes) {
			size += len(data[to])
			to++
		}
		if from == 0 && to == len(data) {
			return c.doOne(ctx, data)
		}
		if err := c.doOne(ctx, data[from:to]); err != nil {
			var re *RowErrors
			if errors.As(err, &re) {
				shifted := &RowErrors{Table: re.Table}
				for _, e := range re.Errors {
					shifted.Errors = append(shifted.Errors, RowError{Index: e.Index + from, Reason: e.Reason})
				}
				return shifted
			}
			return err
		}
		from = to
	}
	return nil
}

// doOne appends data, which fits in one request, as part of a shared request.
func (c *coalescer) doOne(ctx context.Context, data [][]byte) error {
	w := &waiter{data: data, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	c.mu.Unlock()
	c.kick()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The rows may still land: the caller then redelivers, and the dedup views absorb it.
		return ctx.Err()
	}
}

// kick starts a flusher if a slot is free; otherwise a running flusher takes the queue.
func (c *coalescer) kick() {
	select {
	case c.slots <- struct{}{}:
		go c.flush()
	default:
	}
}

func (c *coalescer) flush() {
	for {
		batch := c.take()
		if len(batch) == 0 {
			<-c.slots
			// A call queued after take() found every slot taken: make sure someone serves it.
			c.mu.Lock()
			n := len(c.queue)
			c.mu.Unlock()
			if n > 0 {
				c.kick()
			}
			return
		}
		c.run(batch)
	}
}

// take removes from the queue as many waiters as fit in one request (at least one).
func (c *coalescer) take() []*waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, size, n := 0, 0, 0
	for _, w := range c.queue {
		ws := 0
		for _, d := range w.data {
			ws += len(d)
		}
		if n > 0 && (rows+len(w.data) > maxBatchRows || size+ws > maxBatchBytes) {
			break
		}
		rows, size, n = rows+len(w.data), size+ws, n+1
	}
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	return batch
}

// run sends the batch and hands each waiter its outcome. When BigQuery refuses some rows the
// whole request is refused: the waiters whose rows were at fault get their row errors, and the
// others' rows are sent again without them.
func (c *coalescer) run(batch []*waiter) {
	var data [][]byte
	for _, w := range batch {
		data = append(data, w.data...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	err := c.send(ctx, data)
	cancel()
	var rowErrs *RowErrors
	if !errors.As(err, &rowErrs) || len(batch) == 1 {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	var retry []*waiter
	start := 0
	for _, w := range batch {
		mine := &RowErrors{Table: rowErrs.Table}
		for _, re := range rowErrs.Errors {
			if re.Index >= start && re.Index < start+len(w.data) {
				mine.Errors = append(mine.Errors, RowError{Index: re.Index - start, Reason: re.Reason})
			}
		}
		start += len(w.data)
		if len(mine.Errors) > 0 {
			w.done <- mine
		} else {
			retry = append(retry, w)
		}
	}
	if len(retry) > 0 {
		c.run(retry)
	}
}
