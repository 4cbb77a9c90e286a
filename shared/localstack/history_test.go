package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// historyTerm is the column the test opens: a hashtag of 4 of the sample's tweets, which the
// stream has not carried (its script starts empty), and the stream rule that keeps it live.
const historyTerm = "#serverless"

// historyWait bounds each wait of the test: generous, for a loaded machine; the test waits on
// what the page shows, never for time to pass.
const historyWait = 4 * time.Minute

// TestColumnLoadsItsHistory is issue 24's "a column that asks for its history" in Chromium on
// the full local stack (sign-in against the Auth emulator, Backfill with the x_search fake,
// RunBackfillTask publishing to the events topic, UpdateRankings, ServeRankings, StreamTweets
// with the X stream fake): a signed-in backfill admin opens a column for a hashtag the stream
// has not carried, starts its last 7 days, sees the job's progress reach done and the
// history's tweets in the column, newest first as /tweets serves them (the SQL truth of the
// search rule); then a live tweet with the hashtag arrives through the stream and shows at the
// top of the column.
func TestColumnLoadsItsHistory(t *testing.T) {
	b := deckcheck.NewBrowser(t) // skips, naming the install command, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	project, em := runAuthEmulator(ctx, t)
	s, err := Start(ctx, Options{Project: project, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		AuthEmulatorHost: em.Host, Backfill: &BackfillOptions{},
		Stream:       &StreamOptions{Rules: []map[string]string{{"value": historyTerm, "tag": "deck"}}},
		FunctionsEnv: map[string]string{"DECK_WINDOW": "1d", "DECK_POLL_INTERVAL": "500ms"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	b.Open(s.Rankings.URL + "/")
	deckcheck.SignInEmulator(t, b, DemoUser)
	b.Type("#search-input", historyTerm, "#search button")
	column := fmt.Sprintf(`document.querySelector('section[data-col=%q]')`, "q:"+historyTerm)
	wait(t, b, "the column, empty", column+` && `+column+`.querySelector('.col-msg').textContent.startsWith('No tweets')`)
	wait(t, b, "the history button", column+`.querySelector('button.history-start:not([hidden])') !== null`)
	b.Click(`section[data-col="q:` + historyTerm + `"] button.history-start`)

	// Progress: the job's state and counts in the column, until done.
	var seen []string
	deadline := time.Now().Add(historyWait)
	for {
		var st struct {
			State, Line, Job string
		}
		b.Eval(`(() => { const h = `+column+`.querySelector('.history'); return {State: h.dataset.state || '', Line: h.querySelector('.history-line').textContent, Job: h.dataset.job || ''}; })()`, &st)
		if len(seen) == 0 || seen[len(seen)-1] != st.Line {
			seen = append(seen, st.Line)
		}
		if st.State == "done" || st.State == "done_with_failures" || st.State == "refused" || st.State == "blocked" || time.Now().After(deadline) {
			if st.State != "done" {
				t.Fatalf("the history ended %q (%q), want done; lines shown: %q", st.State, st.Line, seen)
			}
			job, err := s.BackfillStatus(ctx, st.Job)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%d/%d tasks", job.Counts.Planned, job.Counts.Planned); !strings.Contains(st.Line, want) {
				t.Errorf("the column says %q at the end, want %q", st.Line, want)
			}
			break
		}
		time.Sleep(100 * time.Millisecond) // polling the page, not waiting for time to pass
	}
	t.Logf("the column's history line went through %q", seen)

	// The history's tweets: the column shows what /tweets serves, which is the SQL truth.
	check, err := waitSearchEqual(ctx, s, historyTerm, 4)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs, _ := json.Marshal(check.Served)
	wait(t, b, "the history's tweets in the column", `JSON.stringify([...`+column+`.querySelectorAll('li.tweet')].map((li) => li.dataset.id)) === `+fmt.Sprintf("%q", wantIDs))

	// Live: a tweet with the hashtag, created now, arrives through the stream.
	live := fmt.Sprintf("%d", time.Now().UnixNano())
	s.XStream.Enqueue(xstreamtest.Message(string(deckcheck.V2Tweet(live, "live_jo", "live now "+historyTerm, time.Now(), strings.TrimPrefix(historyTerm, "#")))))
	if err := runStream(ctx, s); err != nil {
		t.Fatal(err)
	}
	wait(t, b, "the live tweet at the top of the column", column+`.querySelector('li.tweet').dataset.id === `+fmt.Sprintf("%q", live))
	var ids []string
	b.Eval(`[...`+column+`.querySelectorAll('li.tweet')].map((li) => li.dataset.id)`, &ids)
	if diff := cmp.Diff(append([]string{live}, check.Served...), ids); diff != "" {
		t.Errorf("the column after the live tweet (-want +got):\n%s", diff)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page logged console errors: %q", errs)
	}
}

// wait polls a boolean expression on the page until it holds, for at most historyWait.
func wait(t *testing.T, b *deckcheck.Browser, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(historyWait)
	for {
		var ok bool
		b.Eval(`!!(() => { try { return `+expr+`; } catch (e) { return false; } })()`, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still false after %s (%s)", what, historyWait, expr)
		}
		time.Sleep(100 * time.Millisecond) // polling the page, not waiting for time to pass
	}
}

// waitSearchEqual checks q until ServeRankings serves its SQL truth with at least n tweets.
func waitSearchEqual(ctx context.Context, s *Stack, q string, n int) (SearchCheck, error) {
	deadline := time.Now().Add(historyWait)
	for {
		c, err := s.CheckSearch(ctx, q)
		if err != nil {
			return c, err
		}
		if c.Equal && len(c.Served) >= n {
			return c, nil
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("%s: served %v, SQL truth %v after %s; want them equal with at least %d", q, c.Served, c.Truth, historyWait, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runStream runs StreamTweets as Cloud Scheduler does, until a run publishes what the stream
// fake holds (a run that could not take the lease on a busy machine is followed by another).
func runStream(ctx context.Context, s *Stack) error {
	var last string
	for attempt := 1; attempt <= 6; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Functions.URL+"/StreamTweets", strings.NewReader("{}"))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var out map[string]any
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		json.Unmarshal(body, &out)
		if n, _ := out["published"].(float64); n > 0 {
			return nil
		}
		last = fmt.Sprintf("%s: %.300s", resp.Status, body)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second): // the stack's LEASE_TTL is 10 s
		}
	}
	return fmt.Errorf("StreamTweets published nothing in 6 runs; last: %s", last)
}
