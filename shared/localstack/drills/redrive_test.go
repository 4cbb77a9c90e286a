package drills

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/redrive"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// redriveEvents is how many app events the redrive drill dead-letters and sends again;
// redriveKillAt is after how many publishes the first redrive is interrupted.
const (
	redriveEvents = 100
	redriveKillAt = 40
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// cancelAfter is the events topic that cancels the redrive's context after n publishes, as
// Ctrl-C (SIGINT) does to scripts/redrive mid-run.
type cancelAfter struct {
	redrive.Publisher
	n      int
	cancel context.CancelFunc

	mu   sync.Mutex
	sent int
}

func (c *cancelAfter) Publish(ctx context.Context, data []byte, attrs map[string]string) func(context.Context) (string, error) {
	wait := c.Publisher.Publish(ctx, data, attrs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent++; c.sent == c.n {
		c.cancel()
	}
	return wait
}

// TestDrillRedrive: app events dead-lettered by a schema mismatch (the deployed app_events
// table has user_id REQUIRED, the events have none: BigQuery refuses each row), the cause fixed
// (the column relaxed to NULLABLE, as applying terraform/schemas does; BigQuery allows relaxing a
// REQUIRED column), a redrive interrupted after redriveKillAt publishes and run again, and run a
// third time. Every dead letter is sent once and marked once, stays in dead_letters, and each
// loads as the row its first delivery would have made.
func TestDrillRedrive(t *testing.T) {
	s := startDrillStack(t, nil)
	ctx := context.Background()
	start := time.Now().UTC()
	table := s.BQ.Dataset(s.Dataset).Table(event.TableAppEvents)
	requireUserID(t, ctx, table, true)

	ids := make([]string, 0, redriveEvents)
	for i := range redriveEvents {
		e := &event.AppEvent{Kind: "search", Query: fmt.Sprintf("drill %d", i)}
		if i%2 == 0 {
			e.ID = fmt.Sprintf("ev-%d", i) // half with the app's id, half keyed by message id
		}
		data := fmt.Sprintf(`{"kind":"search","query":%q}`, e.Query)
		if e.ID != "" {
			data = fmt.Sprintf(`{"id":%q,"kind":"search","query":%q}`, e.ID, e.Query)
		}
		id, err := s.Publisher.Publish(ctx, publish.Message{Data: []byte(data), Attributes: event.AppAttributes(e)}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	waitCount(t, s, "dead letters", ids, event.TableDeadLetters, redriveEvents)
	if n := count(t, s, event.TableAppEvents, ids); n != 0 {
		t.Fatalf("%d events loaded while user_id was REQUIRED, want none", n)
	}

	requireUserID(t, ctx, table, false) // the fix
	// The loader's open Storage Write connection still holds the schema it started with (the
	// local server compiles a table's REQUIRED columns per connection and never sends
	// updated_schema; see shared/emulators/bqemulator/storagewrite), so new instances take the
	// fix, as a deploy of it starts them.
	if err := s.RestartFunctions(ctx); err != nil {
		t.Fatal(err)
	}

	parts, err := redrive.Connect(ctx, s.Project, s.Dataset, localstack.EventsTopic, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parts.Close() })
	f := redrive.Filter{Since: start.Add(-time.Minute), Until: time.Now().UTC().Add(time.Minute),
		Stage: event.StageAppend, Kind: string(event.KindSearch), Reason: "user_id"}

	dry, err := redrive.New(parts.Source, parts.Publisher, parts.Recorder, nil, quietLog).Run(ctx, f, redrive.Options{DryRun: true, Sample: 1})
	if err != nil || dry.Selected != redriveEvents || dry.Sent != redriveEvents || dry.Marked != 0 || len(dry.Sample) != 1 {
		t.Fatalf("dry run = %+v, %v; want %d selected and to be sent, none marked, a sample of 1", dry, err, redriveEvents)
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	killed := &cancelAfter{Publisher: parts.Publisher, n: redriveKillAt, cancel: cancel}
	first, err := redrive.New(parts.Source, killed, parts.Recorder, nil, quietLog).Run(rctx, f, redrive.Options{})
	if !errors.Is(err, context.Canceled) || first.Sent != redriveKillAt || first.Marked != redriveKillAt {
		t.Fatalf("interrupted redrive = %+v, %v; want context.Canceled after %d sent and marked", first, err, redriveKillAt)
	}
	var total countingPublisher
	total.Publisher = parts.Publisher
	second, err := redrive.New(parts.Source, &total, parts.Recorder, nil, quietLog).Run(ctx, f, redrive.Options{})
	if err != nil || second.Sent != redriveEvents-redriveKillAt || second.RedriveID != first.RedriveID {
		t.Fatalf("second redrive = %+v, %v; want the other %d sent under redrive id %s", second, err, redriveEvents-redriveKillAt, first.RedriveID)
	}
	third, err := redrive.New(parts.Source, &total, parts.Recorder, nil, quietLog).Run(ctx, f, redrive.Options{})
	if err != nil || third.Selected != 0 || third.Sent != 0 {
		t.Errorf("third redrive = %+v, %v; want nothing selected or sent", third, err)
	}
	if sent := killed.sent + total.n(); sent != redriveEvents {
		t.Errorf("%d messages published by the redrives, want %d", sent, redriveEvents)
	}

	waitCount(t, s, "redriven events loaded", ids, event.TableAppEvents, redriveEvents)
	// Each row is its first delivery's: the dead letter's message id and publish time (the
	// app's event id, or "msg:<message id>" without one), and one row per key in the dedup view.
	q := fmt.Sprintf("SELECT COUNT(*) AS n FROM `%[1]s.%[2]s.app_events_dedup` AS a JOIN `%[1]s.%[2]s.dead_letters` AS d "+
		"ON a.message_id = d.message_id AND a.publish_time = d.publish_time "+
		"WHERE a.message_id IN (%[3]s) AND (a.event_id = CONCAT('msg:', d.message_id) OR a.event_id LIKE 'ev-%%')",
		s.Project, s.Dataset, quoted(ids))
	if n := queryInt(t, s, q); n != redriveEvents {
		t.Errorf("%d rows of app_events_dedup are their first delivery's (message id, publish time, event id), want %d", n, redriveEvents)
	}
	truth, err := streamTruth(ctx, s, event.TableAppEvents, "event_id", event.TableAppEvents+"_dedup")
	if err != nil {
		t.Fatal(err)
	}
	if truth.Keys != redriveEvents || truth.DedupRows != redriveEvents {
		t.Errorf("app_events: %d keys, %d rows in the dedup view; want %d each", truth.Keys, truth.DedupRows, redriveEvents)
	}
	t.Logf("app_events: %d rows, %d keys (%d raw duplicates from at-least-once delivery)", truth.Rows, truth.Keys, truth.Rows-truth.Keys)

	marks := queryInt(t, s, fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s.%s`", s.Project, s.Dataset, warehouse.TableRedrives))
	marked := count(t, s, warehouse.TableRedrives, ids)
	if marks != redriveEvents || marked != redriveEvents {
		t.Errorf("redrives holds %d rows for %d of the dead letters, want %d rows, one per dead letter", marks, marked, redriveEvents)
	}
	if n := count(t, s, event.TableDeadLetters, ids); n != redriveEvents {
		t.Errorf("dead_letters holds %d of the dead letters after the redrive, want all %d (marked, not deleted)", n, redriveEvents)
	}
	if n := count(t, s, warehouse.ViewDeadLettersPending, ids); n != 0 {
		t.Errorf("%s still lists %d of them, want none", warehouse.ViewDeadLettersPending, n)
	}
}

// countingPublisher counts what it publishes.
type countingPublisher struct {
	redrive.Publisher
	mu   sync.Mutex
	sent int
}

func (c *countingPublisher) Publish(ctx context.Context, data []byte, attrs map[string]string) func(context.Context) (string, error) {
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	return c.Publisher.Publish(ctx, data, attrs)
}

func (c *countingPublisher) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// requireUserID sets app_events' user_id column REQUIRED by creating the table again with it so
// (BigQuery cannot tighten a column in place), or relaxes it to NULLABLE with a schema update.
func requireUserID(t *testing.T, ctx context.Context, table *bigquery.Table, required bool) {
	t.Helper()
	md, err := table.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema := md.Schema
	for _, f := range schema {
		if f.Name == "user_id" {
			f.Required = required
		}
	}
	if !required {
		if _, err := table.Update(ctx, bigquery.TableMetadataToUpdate{Schema: schema}, md.ETag); err != nil {
			t.Fatalf("relaxing user_id: %v", err)
		}
		return
	}
	if err := table.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := table.Create(ctx, &bigquery.TableMetadata{Schema: schema, TimePartitioning: md.TimePartitioning, Clustering: md.Clustering}); err != nil {
		t.Fatalf("creating app_events with user_id REQUIRED: %v", err)
	}
}

// waitCount waits until table holds want of the message ids.
func waitCount(t *testing.T, s *localstack.Stack, what string, ids []string, table string, want int) {
	t.Helper()
	deadline := time.Now().Add(drillTimeout())
	for {
		n := count(t, s, table, ids)
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d after %s (forwarder: %d acked, %d nacked)", what, n, want, drillTimeout(), s.Forwarder.Acked(), s.Forwarder.Nacked())
		}
		<-time.After(100 * time.Millisecond)
	}
}

// count is how many of the message ids table (or view) holds, each once.
func count(t *testing.T, s *localstack.Stack, table string, ids []string) int {
	t.Helper()
	return queryInt(t, s, fmt.Sprintf("SELECT COUNT(DISTINCT message_id) AS n FROM `%s.%s.%s` WHERE message_id IN (%s)", s.Project, s.Dataset, table, quoted(ids)))
}

func queryInt(t *testing.T, s *localstack.Stack, sql string) int {
	t.Helper()
	rows, err := s.BigQuery.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return int(rows[0]["n"].(int64))
}

func quoted(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + id + "'"
	}
	return strings.Join(q, ", ")
}
