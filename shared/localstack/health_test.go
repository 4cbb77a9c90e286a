package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// burstVisibleWithin is issue 28's bound: the stack's health shows a dead-letter burst within a
// minute of it being published.
const burstVisibleWithin = time.Minute

// TestHealthShowsTheMalformedBurst publishes the demo's malformed burst to a real stack and reads
// the health endpoint (what `dev status` and the deck's panel read) until every reason of the
// burst is counted, for at most burstVisibleWithin; then the other signals are the stack's.
func TestHealthShowsTheMalformedBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		Stream: &StreamOptions{Lines: []string{`{"data":{"id":"1","text":"#go"}}`}}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	want := BurstReasons()
	sent := time.Now()
	n, err := s.PublishMalformedBurst(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := waitForBurst(ctx, s, want, sent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, h.DeadLettersByReason()); diff != "" {
		t.Fatalf("%d malformed messages published; dead letters by reason after %s (-want +got):\n%s", n, burstVisibleWithin, diff)
	}
	if len(h.Problems) > 0 {
		t.Errorf("health problems: %q", h.Problems)
	}
	var subs []string
	for _, b := range h.Subscriptions {
		subs = append(subs, b.Subscription[strings.LastIndex(b.Subscription, "/")+1:])
	}
	if diff := cmp.Diff([]string{LoaderSub, RankingsSub}, subs); diff != "" {
		t.Errorf("subscriptions (-want +got):\n%s", diff)
	}
	if h.Stream == nil || h.Stream.State != "never" {
		t.Errorf("stream state %+v, want never (no StreamTweets run yet)", h.Stream)
	}
	var loads FunctionErrors
	for _, f := range h.Functions {
		if f.Function == "LoadEvents" {
			loads = f
		}
	}
	if loads.Requests < n || loads.Errors5xx != 0 {
		t.Errorf("LoadEvents answered %d requests with %d 5xx; want at least %d, none 5xx", loads.Requests, loads.Errors5xx, n)
	}
	var table strings.Builder
	h.Print(&table)
	for reason := range want {
		if !strings.Contains(table.String(), reason) {
			t.Errorf("the health table does not show %q:\n%s", reason, table.String())
		}
	}
	t.Logf("%s", table.String())
}

// waitForBurst reads the stack's health until it shows want (BurstReasons) or
// burstVisibleWithin has passed since sent, and returns the last reading.
func waitForBurst(ctx context.Context, s *Stack, want map[string]int64, sent time.Time) (*Health, error) {
	for {
		h, err := ReadHealth(ctx, s.HealthURL())
		if err != nil {
			return nil, err
		}
		if BurstSeen(h, want) || time.Since(sent) > burstVisibleWithin {
			return h, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestLeaseDoc: the stack reads StreamTweets' lease where StreamTweets writes it.
func TestLeaseDoc(t *testing.T) {
	if LeaseDoc != streamtweets.DefaultLeaseDoc {
		t.Errorf("LeaseDoc = %q, want streamtweets.DefaultLeaseDoc %q", LeaseDoc, streamtweets.DefaultLeaseDoc)
	}
}

// TestDeadLettersPerMinuteBound: a window of exactly maxDeadLetterRows (minute, reason) rows is
// read whole; one more is cut at maxDeadLetterRows and says so.
func TestDeadLettersPerMinuteBound(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	for _, n := range []int{maxDeadLetterRows, maxDeadLetterRows + 1} {
		srv, err := bqemulator.NewServer(bqemulator.WithProject("p"))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint("http://"+srv.Addr()+"/bigquery/v2/"), option.WithoutAuthentication())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := warehouse.EnsureDataset(ctx, c, "d"); err != nil {
			t.Fatal(err)
		}
		type deadLetter struct {
			DeadLetteredAt time.Time `bigquery:"dead_lettered_at"`
			MessageID      string    `bigquery:"message_id"`
			Stage          string    `bigquery:"stage"`
			Reason         string    `bigquery:"reason"`
			Kind           string    `bigquery:"kind"`
		}
		rows := make([]deadLetter, n)
		for i := range rows {
			rows[i] = deadLetter{now, fmt.Sprint(i), event.StageDecode, fmt.Sprintf("reason %03d", i), "unclassified"}
		}
		if err := c.Dataset("d").Table(event.TableDeadLetters).Inserter().Put(ctx, rows); err != nil {
			t.Fatal(err)
		}
		got, cut, err := DeadLettersPerMinute(ctx, c, "p", "d", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != maxDeadLetterRows || cut != (n > maxDeadLetterRows) {
			t.Errorf("%d reasons in a minute: %d rows, cut %v; want %d, %v", n, len(got), cut, maxDeadLetterRows, n > maxDeadLetterRows)
		}
	}
}

// TestReadHealthBodyBound: an answer of exactly maxHealthBody bytes is read; one more is refused.
func TestReadHealthBodyBound(t *testing.T) {
	for _, n := range []int{maxHealthBody, maxHealthBody + 1} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "{}"+strings.Repeat(" ", n-2))
		}))
		_, err := ReadHealth(context.Background(), srv.URL)
		srv.Close()
		if (err != nil) != (n > maxHealthBody) {
			t.Errorf("a %d-byte answer: error %v, want one only past %d bytes", n, err, maxHealthBody)
		}
	}
}
