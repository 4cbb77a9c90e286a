package localstack

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBacklog: what the forwarder reports as a subscription's backlog after a sequence of
// deliveries: received and unanswered, nacked and waiting, acked, dead-lettered by Pub/Sub after
// the last attempt, and flow control full.
func TestBacklog(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	type step struct {
		recv    string // message id received, published at t0 + its number of seconds
		done    string // message id answered
		ack     bool
		attempt int
	}
	recv := func(id string) step { return step{recv: id} }
	ack := func(id string) step { return step{done: id, ack: true} }
	nack := func(id string, attempt int) step { return step{done: id, attempt: attempt} }
	tests := []struct {
		name  string
		steps []step
		want  Backlog
	}{
		{"nothing", nil, Backlog{}},
		{"two in flight", []step{recv("10"), recv("20")},
			Backlog{Unacked: 2, InFlight: 2, OldestUnackedAgeS: 50}},
		{"acked leave", []step{recv("10"), recv("20"), ack("10")},
			Backlog{Unacked: 1, InFlight: 1, Acked: 1, OldestUnackedAgeS: 40}},
		{"nacked stay until acked", []step{recv("10"), nack("10", 1), recv("10"), nack("10", 2)},
			Backlog{Unacked: 1, Nacked: 2, OldestUnackedAgeS: 50}},
		{"redelivery acked", []step{recv("10"), nack("10", 1), recv("10"), ack("10")},
			Backlog{Acked: 1, Nacked: 1}},
		{"last attempt nacked: dead-lettered", []step{recv("10"), nack("10", 4), recv("10"), nack("10", 5)},
			Backlog{Nacked: 2, DeadLettered: 1}},
		{"flow control full", []step{recv("1"), recv("2"), recv("3")},
			Backlog{Unacked: 3, InFlight: 3, AtLeast: true, OldestUnackedAgeS: 59}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBacklog(3, 5)
			for _, s := range tt.steps {
				if s.recv != "" {
					n, _ := strconv.Atoi(s.recv)
					b.received(s.recv, t0.Add(time.Duration(n)*time.Second))
				} else {
					b.done(s.done, s.ack, s.attempt)
				}
			}
			tt.want.Subscription = "projects/p/subscriptions/s"
			if diff := cmp.Diff(tt.want, b.snapshot("projects/p/subscriptions/s", now)); diff != "" {
				t.Errorf("backlog mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBacklogTrackedBound: exactly maxTrackedMessages unacked messages are all counted and the
// count is exact; one more is not remembered and the count reads "at least"; once the
// remembered ones are acked the count is exact again.
func TestBacklogTrackedBound(t *testing.T) {
	now := time.Now()
	for _, n := range []int{maxTrackedMessages, maxTrackedMessages + 1} {
		b := newBacklog(0, 5) // no flow-control bound, so only the tracking bound is seen
		for i := range n {
			b.received(strconv.Itoa(i), now)
		}
		got := b.snapshot("s", now)
		if got.Unacked != maxTrackedMessages || got.AtLeast != (n > maxTrackedMessages) {
			t.Errorf("%d unacked: Unacked %d, AtLeast %v; want %d, %v", n, got.Unacked, got.AtLeast, maxTrackedMessages, n > maxTrackedMessages)
		}
		for i := range n {
			b.done(strconv.Itoa(i), true, 1)
		}
		if got := b.snapshot("s", now); got.Unacked != 0 || got.AtLeast {
			t.Errorf("%d unacked, then all acked: Unacked %d, AtLeast %v; want 0, false", n, got.Unacked, got.AtLeast)
		}
	}
}
