package bqemulator

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const testProject = "test-project"

// newTestServer starts a server and an official client pointed at it.
func newTestServer(t testing.TB, opts ...Option) (*Server, *bigquery.Client, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	opts = append([]Option{WithProject(testProject), WithClock(clock.Now), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	srv, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("NewServer() error = %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	ctx := context.Background()
	client, err := bigquery.NewClient(ctx, testProject,
		option.WithEndpoint(srv.Endpoint()),
		option.WithoutAuthentication(),
	)
	if err != nil {
		t.Fatalf("bigquery.NewClient() error = %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, client, clock
}

// readAll reads every row of an iterator as maps keyed by column name.
func readAll(t testing.TB, it *bigquery.RowIterator) []map[string]bigquery.Value {
	t.Helper()
	var out []map[string]bigquery.Value
	for {
		var row map[string]bigquery.Value
		err := it.Next(&row)
		if err == iteratorDone {
			return out
		}
		if err != nil {
			t.Fatalf("RowIterator.Next() error = %v", err)
		}
		out = append(out, row)
	}
}
