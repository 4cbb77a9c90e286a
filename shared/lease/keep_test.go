package lease

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeepReportsLoss(t *testing.T) {
	client, clk := newClient(t), newClock()
	a := New(client, leaseDoc, "run-a", time.Minute, WithClock(clk.Now))
	b := New(client, leaseDoc, "run-b", time.Minute, WithClock(clk.Now))
	if ok, err := a.Acquire(t.Context()); !ok || err != nil {
		t.Fatalf("a.Acquire() = %v, %v, want true, nil", ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lost := a.Keep(ctx, 10*time.Millisecond)

	// While Keep renews, the lease stays a's even past the first expiry.
	first := a.ExpiresAt()
	clk.Advance(30 * time.Second)
	waitFor(t, "a renewal after the clock moved", func() bool { return a.ExpiresAt().After(first) })
	clk.Advance(45 * time.Second) // past the first expiry, before the renewed one
	if ok, err := b.Acquire(t.Context()); ok || err != nil {
		t.Errorf("b.Acquire() while a keeps it = %v, %v, want false, nil", ok, err)
	}

	// Jump past any renewal a can have made, as if its renewals had stalled:
	// b takes the lease, and a's next renewal reports the loss.
	clk.Advance(2 * time.Minute)
	if ok, err := b.Acquire(t.Context()); !ok || err != nil {
		t.Fatalf("b.Acquire() after a's lease expired = %v, %v, want true, nil", ok, err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLost) {
			t.Errorf("Keep sent %v, want ErrLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Keep did not report the lost lease within 10s")
	}
	if _, open := <-lost; open {
		t.Error("Keep's channel still open after reporting the loss, want it closed")
	}
}

func TestKeepStopsWithContext(t *testing.T) {
	client, clk := newClient(t), newClock()
	a := New(client, leaseDoc, "run-a", time.Minute, WithClock(clk.Now))
	if ok, err := a.Acquire(t.Context()); !ok || err != nil {
		t.Fatalf("a.Acquire() = %v, %v, want true, nil", ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	lost := a.Keep(ctx, 10*time.Millisecond)
	cancel()
	select {
	case err, open := <-lost:
		if open {
			t.Errorf("Keep sent %v after its context ended, want the channel closed without an error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Keep's channel not closed within 10s of the context ending")
	}
}

// waitFor polls cond until it holds, failing the test after a bounded wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
