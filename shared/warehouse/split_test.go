package warehouse

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// requestLimit is the Storage Write API's limit on one AppendRows request.
const requestLimit = 10 << 20

// limitedSend refuses requests over requestLimit as BigQuery does, and refuses rows starting
// with "bad" with per-row errors.
type limitedSend struct {
	mu       sync.Mutex
	requests []int // bytes of each request
	rows     int
}

func (l *limitedSend) send(_ context.Context, data [][]byte) error {
	size := 0
	for _, d := range data {
		size += len(d)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, size)
	if size > requestLimit {
		return &RowErrors{Table: "t", Errors: []RowError{{Index: 0, Reason: fmt.Sprintf("AppendRows request too large: %d limit %d", size, requestLimit)}}}
	}
	re := &RowErrors{Table: "t"}
	for i, d := range data {
		if bytes.HasPrefix(d, []byte("bad")) {
			re.Errors = append(re.Errors, RowError{Index: i, Reason: "refused"})
		}
	}
	if len(re.Errors) > 0 {
		return re
	}
	l.rows += len(data)
	return nil
}

// One call with more rows than fit in a request is sent as several requests under the limit.
func TestAppendOfMoreThanOneRequestIsSplit(t *testing.T) {
	for _, n := range []int{9_800, 12_000} {
		l := &limitedSend{}
		c := newCoalescer(l.send)
		data := make([][]byte, n)
		for i := range data {
			data[i] = bytes.Repeat([]byte{'x'}, 1070)
		}
		if err := c.do(t.Context(), data); err != nil {
			t.Errorf("do(%d rows of 1 KB) = %v, want nil", n, err)
		}
		if l.rows != n {
			t.Errorf("do(%d rows of 1 KB) stored %d rows", n, l.rows)
		}
		for i, size := range l.requests {
			if size > maxBatchBytes {
				t.Errorf("request %d of %d rows of 1 KB has %d bytes, over the %d cap", i, n, size, maxBatchBytes)
			}
		}
	}
}

// Row errors of a split call keep their indexes into the call's rows.
func TestSplitAppendRowErrorsKeepTheirIndexes(t *testing.T) {
	l := &limitedSend{}
	c := newCoalescer(l.send)
	data := make([][]byte, 2*maxBatchRows+5)
	for i := range data {
		data[i] = []byte("ok")
	}
	data[maxBatchRows+3] = []byte("bad")
	err := c.do(t.Context(), data)
	re, ok := err.(*RowErrors)
	if !ok {
		t.Fatalf("do() = %v, want *RowErrors", err)
	}
	if diff := cmp.Diff([]RowError{{Index: maxBatchRows + 3, Reason: "refused"}}, re.Errors); diff != "" {
		t.Errorf("row errors mismatch (-want +got):\n%s", diff)
	}
}
