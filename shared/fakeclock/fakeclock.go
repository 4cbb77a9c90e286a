// Package fakeclock provides a clock that moves only when told to, so that tests and benchmarks
// decide what time it is instead of the machine's speed.
//
// Reference: docs/local-stack.md.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a settable time source, safe for concurrent use. Its Now method fits the
// func() time.Time hooks the packages take.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock d forward (back when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
