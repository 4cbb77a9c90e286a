package taskqueue

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
)

// retryable reports whether a CreateTask failure may pass: the queue is over its create quota
// (RESOURCE_EXHAUSTED), the call timed out (DEADLINE_EXCEEDED) or the service could not be
// reached (UNAVAILABLE). Every other code is about the request and would fail again.
func retryable(c codes.Code) bool {
	switch c {
	case codes.ResourceExhausted, codes.DeadlineExceeded, codes.Unavailable:
		return true
	}
	return false
}

// backoff returns the delay after the given failed attempt (1 for the first): minBackoff
// doubled per attempt, capped at maxBackoff.
func (e *Enqueuer) backoff(attempt int) time.Duration {
	d := e.minBackoff
	for range attempt - 1 {
		if d >= e.maxBackoff/2 {
			return e.maxBackoff
		}
		d *= 2
	}
	return min(d, e.maxBackoff)
}

// equalJitter returns a duration in [d/2, d): the wait stays of the intended size while
// concurrent callers that failed together spread out instead of retrying in lockstep.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
