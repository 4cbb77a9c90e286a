package warehouse

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeSend refuses rows whose bytes start with "bad", as BigQuery refuses a whole request with
// per-row errors, and records the size of every request.
type fakeSend struct {
	mu      sync.Mutex
	batches []int
	stored  []string
	block   chan struct{}
	held    int // rows inside sends that wait on block
}

func (f *fakeSend) send(ctx context.Context, data [][]byte) error {
	if f.block != nil {
		f.mu.Lock()
		f.held += len(data)
		f.mu.Unlock()
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, len(data))
	re := &RowErrors{Table: "t"}
	for i, d := range data {
		if strings.HasPrefix(string(d), "bad") {
			re.Errors = append(re.Errors, RowError{Index: i, Reason: "refused " + string(d)})
		}
	}
	if len(re.Errors) > 0 {
		return re
	}
	for _, d := range data {
		f.stored = append(f.stored, string(d))
	}
	return nil
}

func TestCoalescerGroupsAndSplitsRowErrors(t *testing.T) {
	f := &fakeSend{block: make(chan struct{})}
	c := newCoalescer(f.send)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := fmt.Sprintf("ok-%d", i)
			if i%10 == 3 {
				row = fmt.Sprintf("bad-%d", i)
			}
			errs[i] = c.do(context.Background(), [][]byte{[]byte("first"), []byte(row)})
		}()
	}
	// Hold the first appends until every call is either inside one or queued, so the queued
	// ones must share requests.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		f.mu.Lock()
		held := f.held / 2
		f.mu.Unlock()
		if queued+held == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls did not queue: %d queued, %d held", queued, held)
		}
		runtime.Gosched()
	}
	close(f.block)
	wg.Wait()
	for i, err := range errs {
		var re *RowErrors
		switch {
		case i%10 == 3:
			if !errors.As(err, &re) {
				t.Errorf("call %d: error = %v, want *RowErrors", i, err)
				continue
			}
			want := []RowError{{Index: 1, Reason: fmt.Sprintf("refused bad-%d", i)}}
			if diff := cmp.Diff(want, re.Errors); diff != "" {
				t.Errorf("call %d: row errors mismatch (-want +got):\n%s", i, diff)
			}
		case err != nil:
			t.Errorf("call %d: error = %v, want nil", i, err)
		}
	}
	if got, want := len(f.stored), 2*(n-n/10); got != want {
		t.Errorf("stored %d rows, want %d: every good call's rows exactly once", got, want)
	}
	if len(f.batches) >= n {
		t.Errorf("%d append requests for %d calls, want fewer: calls should share requests", len(f.batches), n)
	}
}

func TestCoalescerTransientErrorReachesEveryCaller(t *testing.T) {
	boom := errors.New("unavailable")
	c := newCoalescer(func(ctx context.Context, data [][]byte) error { return boom })
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.do(context.Background(), [][]byte{[]byte("x")}); !errors.Is(err, boom) {
				t.Errorf("do() = %v, want %v", err, boom)
			}
		}()
	}
	wg.Wait()
}
