package lease

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

func TestMain(m *testing.M) {
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

const leaseDoc = "leases/x-stream"

// clock is a settable time source shared by the holders of one test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newClient returns a Firestore client on a project of its own, so tests do not share leases.
func newClient(t *testing.T) *firestore.Client {
	t.Helper()
	c, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAcquireRaceHasOneWinner(t *testing.T) {
	const holders = 16
	for round := range 2 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			client, clk := newClient(t), newClock()
			var wg sync.WaitGroup
			won := make([]bool, holders)
			errs := make([]error, holders)
			start := make(chan struct{})
			for i := range holders {
				l := New(client, leaseDoc, fmt.Sprintf("run-%d", i), time.Minute, WithClock(clk.Now))
				wg.Go(func() {
					<-start
					won[i], errs[i] = l.Acquire(t.Context())
				})
			}
			close(start)
			wg.Wait()
			winners := 0
			for i := range holders {
				if errs[i] != nil {
					t.Errorf("holder %d: Acquire() error = %v, want nil", i, errs[i])
				}
				if won[i] {
					winners++
				}
			}
			if winners != 1 {
				t.Errorf("%d of %d racing holders won the lease, want exactly 1", winners, holders)
			}
		})
	}
}

// step is one action of one holder in a lease scenario.
type step struct {
	advance time.Duration // move the clock first
	who     string        // "a" or "b"
	op      string        // acquire, renew, release
	wantOK  bool          // for acquire
	wantErr error         // for renew and release: nil or ErrLost
	wantGen int64         // the holder's Generation() after the step
}

func TestLeaseScenarios(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "held lease is refused to the other until it expires",
			steps: []step{
				{who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{who: "b", op: "acquire", wantOK: false, wantGen: 0},
				{advance: ttl - time.Second, who: "b", op: "acquire", wantOK: false, wantGen: 0},
				{advance: time.Second, who: "b", op: "acquire", wantOK: true, wantGen: 2},
				{who: "a", op: "renew", wantErr: ErrLost, wantGen: 1},
				{who: "a", op: "acquire", wantOK: false, wantGen: 1},
			},
		},
		{
			name: "acquire again while ours extends the same generation",
			steps: []step{
				{who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{advance: 50 * time.Second, who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{advance: 50 * time.Second, who: "b", op: "acquire", wantOK: false, wantGen: 0},
			},
		},
		{
			name: "renew keeps it past the first expiry",
			steps: []step{
				{who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{advance: 40 * time.Second, who: "a", op: "renew", wantGen: 1},
				{advance: 40 * time.Second, who: "b", op: "acquire", wantOK: false, wantGen: 0},
				{who: "a", op: "renew", wantGen: 1},
			},
		},
		{
			name: "renew after expiry fails even if nobody took it",
			steps: []step{
				{who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{advance: ttl, who: "a", op: "renew", wantErr: ErrLost, wantGen: 1},
				{who: "a", op: "acquire", wantOK: true, wantGen: 2},
			},
		},
		{
			name: "release lets the other take it at once, generations keep growing",
			steps: []step{
				{who: "a", op: "acquire", wantOK: true, wantGen: 1},
				{who: "a", op: "release", wantGen: 1},
				{who: "a", op: "renew", wantErr: ErrLost, wantGen: 1},
				{who: "b", op: "acquire", wantOK: true, wantGen: 2},
				{who: "a", op: "release", wantErr: ErrLost, wantGen: 1},
				{who: "b", op: "release", wantGen: 2},
				{who: "a", op: "acquire", wantOK: true, wantGen: 3},
			},
		},
		{
			name: "renew and release without acquiring fail",
			steps: []step{
				{who: "a", op: "renew", wantErr: ErrLost},
				{who: "a", op: "release", wantErr: ErrLost},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, clk := newClient(t), newClock()
			leases := map[string]*Lease{
				"a": New(client, leaseDoc, "run-a", ttl, WithClock(clk.Now)),
				"b": New(client, leaseDoc, "run-b", ttl, WithClock(clk.Now)),
			}
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				l := leases[s.who]
				switch s.op {
				case "acquire":
					ok, err := l.Acquire(t.Context())
					if err != nil || ok != s.wantOK {
						t.Errorf("step %d: %s.Acquire() = %v, %v, want %v, nil", i, s.who, ok, err, s.wantOK)
					}
				case "renew":
					if err := l.Renew(t.Context()); !errors.Is(err, s.wantErr) || (err != nil) != (s.wantErr != nil) {
						t.Errorf("step %d: %s.Renew() = %v, want %v", i, s.who, err, s.wantErr)
					}
				case "release":
					if err := l.Release(t.Context()); !errors.Is(err, s.wantErr) || (err != nil) != (s.wantErr != nil) {
						t.Errorf("step %d: %s.Release() = %v, want %v", i, s.who, err, s.wantErr)
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
				if got := l.Generation(); got != s.wantGen {
					t.Errorf("step %d: %s.Generation() = %d, want %d", i, s.who, got, s.wantGen)
				}
			}
		})
	}
}

func TestStoredDocument(t *testing.T) {
	client, clk := newClient(t), newClock()
	l := New(client, leaseDoc, "run-a", time.Minute, WithClock(clk.Now))
	acquiredAt := clk.Now()
	if ok, err := l.Acquire(t.Context()); !ok || err != nil {
		t.Fatalf("Acquire() = %v, %v, want true, nil", ok, err)
	}
	clk.Advance(10 * time.Second)
	if err := l.Renew(t.Context()); err != nil {
		t.Fatalf("Renew() = %v", err)
	}
	snap, err := client.Doc(leaseDoc).Get(t.Context())
	if err != nil {
		t.Fatalf("reading %s: %v", leaseDoc, err)
	}
	want := map[string]any{
		"holder":      "run-a",
		"acquired_at": acquiredAt,
		"expires_at":  clk.Now().Add(time.Minute),
		"generation":  int64(1),
	}
	if diff := cmp.Diff(want, snap.Data()); diff != "" {
		t.Errorf("lease document mismatch (-want +got):\n%s", diff)
	}
	if got, want := l.ExpiresAt(), clk.Now().Add(time.Minute); !got.Equal(want) {
		t.Errorf("ExpiresAt() = %v, want %v", got, want)
	}
}

func TestBadDocumentPath(t *testing.T) {
	l := New(newClient(t), "leases", "run-a", time.Minute)
	if ok, err := l.Acquire(t.Context()); ok || err == nil {
		t.Errorf("Acquire() with path %q = %v, %v, want false and an error", "leases", ok, err)
	}
}
