package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// maxBackoff caps the wait between failed polls.
const maxBackoff = 30 * time.Second

// ended reports whether a job in this state will not change without a retry.
func ended(state string) bool {
	switch state {
	case "done", "done_with_failures", "cancelled", "blocked":
		return true
	}
	return false
}

// stateCode is the exit code for a job's state; 0 for a job still going.
func stateCode(state string) int {
	switch state {
	case "done_with_failures":
		return exitFailures
	case "blocked":
		return exitBlocked
	case "cancelled":
		return exitCancelled
	}
	return exitOK
}

// watch polls the job until it ends, showing progress on stderr, then prints the summary.
// Failed polls are retried with backoff for up to a.maxOutage: a watch of hours must outlive a
// network blip or a redeploy of the function.
func (a *app) watch(ctx context.Context, c *client, o options, job string) (int, error) {
	p := &progress{w: a.stderr, tty: a.tty, every: o.every, now: a.now}
	defer p.end()
	started := a.now()
	var failedSince time.Time
	failures := 0
	for {
		s, err := c.status(ctx, job)
		if err != nil {
			if ctx.Err() != nil {
				return 0, watchEnded(job, context.Cause(ctx))
			}
			if !transient(err) {
				return 0, fmt.Errorf("watching job %s: %w", job, err)
			}
			if failures == 0 {
				failedSince = a.now()
			}
			failures++
			if out := a.now().Sub(failedSince); out >= a.maxOutage {
				return 0, fmt.Errorf("watching job %s: polls failing for %s: %w", job, out.Round(time.Second), err)
			}
			wait := backoff(failures, o.interval)
			p.note(fmt.Sprintf("polling job %s failed (attempt %d), retrying in %s: %v", job, failures, wait, err))
			if err := sleep(ctx, wait); err != nil {
				return 0, watchEnded(job, err)
			}
			continue
		}
		if failures > 0 {
			p.note(fmt.Sprintf("polling job %s works again after %d failed %s", job, failures, plural(failures, "attempt")))
			failures = 0
		}
		p.show(&s.Status)
		if ended(s.State) {
			p.end()
			return a.finish(s, o, a.now().Sub(started))
		}
		if err := sleep(ctx, o.interval); err != nil {
			return 0, watchEnded(job, err)
		}
	}
}

// plural returns word with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// watchEnded explains a watch cut short by --timeout or an interrupt.
func watchEnded(job string, err error) error {
	return fmt.Errorf("watching job %s (watch it again with: go run ./scripts/backfill watch %s): %w", job, job, err)
}

// backoff is the wait before poll retry number n (1-based): from the poll interval (at most
// 1s) doubling to maxBackoff.
func backoff(n int, interval time.Duration) time.Duration {
	d := min(interval, time.Second)
	for range min(n-1, 10) {
		d *= 2
	}
	return min(d, maxBackoff)
}

// sleep waits for d or until ctx ends, returning the context's cause then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// finish prints a job's status: the summary, and with --json the status as one JSON line on
// stdout (the summary then goes to stderr). It returns the exit code of the job's state.
func (a *app) finish(s *statusResult, o options, watched time.Duration) (int, error) {
	w := a.summaryWriter(o)
	writeSummary(w, &s.Status, watched)
	if s.State == "blocked" && s.Blocked == "" {
		fmt.Fprintln(w, "  blocked    (the server gave no reason)")
	}
	if o.json {
		if err := a.printJSON(s.raw); err != nil {
			return 0, err
		}
	}
	return stateCode(s.State), nil
}

// progress shows statuses on stderr: on a terminal a bar redrawn in place, otherwise a plain
// line every so often (and the last one), which reads well in CI logs.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	now   func() time.Time

	printed time.Time // when the last plain line was printed
	drawn   bool      // the bar is on the terminal's current line
}

// show draws the bar, or prints a plain line if the last one is old enough or the job ended.
func (p *progress) show(s *backfill.Status) {
	line := progressLine(s)
	if p.tty {
		// \x1b[K clears what a longer previous line left behind.
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.drawn = true
		return
	}
	now := p.now()
	if !p.printed.IsZero() && now.Sub(p.printed) < p.every && !ended(s.State) {
		return
	}
	p.printed = now
	fmt.Fprintln(p.w, line)
}

// note prints a message on its own line; the bar comes back at the next poll.
func (p *progress) note(msg string) {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintln(p.w, msg)
}

// end moves past the bar so what follows starts on a fresh line.
func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
