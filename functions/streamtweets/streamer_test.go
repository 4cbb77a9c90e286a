package streamtweets

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// Messages as X sends them (v2 filtered stream, compact JSON).
const (
	tweetEN = `{"data":{"id":"1600000000000000010","text":"hello #cats","author_id":"42","created_at":"2024-05-01T10:00:00.000Z","lang":"en","entities":{"hashtags":[{"start":6,"end":11,"tag":"cats"}]}},"includes":{"users":[{"id":"42","username":"alice"}]},"matching_rules":[{"id":"1273636687768285186","tag":"cats"}]}`
	replyEN = `{"data":{"id":"1600000000000000011","text":"@alice yes","author_id":"43","lang":"en","referenced_tweets":[{"type":"replied_to","id":"1600000000000000010"}]},"matching_rules":[{"id":"1273636687768285186","tag":"cats"}]}`
	retweet = `{"data":{"id":"1600000000000000012","text":"RT @alice: hello","author_id":"44","lang":"en","referenced_tweets":[{"type":"retweeted","id":"1600000000000000010"}]},"matching_rules":[{"id":"1273636687768285186","tag":"cats"}]}`
	quoteDE = `{"data":{"id":"1600000000000000013","text":"schau","author_id":"45","lang":"de","referenced_tweets":[{"type":"quoted","id":"1600000000000000010"}]},"matching_rules":[{"id":"1273636687768285186","tag":"cats"}]}`
	noLang  = `{"data":{"id":"1600000000000000014","text":"?","author_id":"46"},"matching_rules":[{"id":"1273636687768285186","tag":"cats"}]}`
	notX    = `{"foo":1}`
	// bigID has an id above 2^53, which must reach Pub/Sub unchanged.
	bigID = `{"data":{"id":"9007199254740993","text":"big","lang":"en"},"matching_rules":[{"id":1273636687768285186,"tag":null}]}`
)

func attrs(kind, lang, id string) map[string]string {
	a := map[string]string{"kind": kind, "source": "x_stream", "schema_version": "1"}
	if lang != "" {
		a["lang"] = lang
	}
	if id != "" {
		a["event_id"] = id
	}
	return a
}

// sortReceived orders expected messages like pull does.
func sortReceived(rs []received) []received {
	out := append([]received(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Data < out[j].Data })
	return out
}

// ignoreRunFacts leaves out what differs between runs.
var ignoreRunFacts = cmpopts.IgnoreFields(Summary{}, "RanForS", "LeaseGeneration", "Rules", "WaitedS", "ReadS", "Connections")

func TestRunPublishes(t *testing.T) {
	stop := xstreamtest.OperationalDisconnectLine
	tests := []struct {
		name     string
		script   []xstreamtest.Step
		langs    []string
		want     Summary
		wantMsgs []received
	}{
		{
			name:   "every kind, data and attributes as sent",
			script: xstreamtest.Messages(tweetEN, replyEN, retweet, quoteDE, noLang, bigID),
			want: Summary{Published: 6, ByKind: map[string]int{"tweet": 3, "reply": 1, "retweet": 1, "quote": 1},
				DroppedByLang: map[string]int{}, Reconnects: map[string]int{}},
			wantMsgs: []received{
				{tweetEN, attrs("tweet", "en", "1600000000000000010")},
				{replyEN, attrs("reply", "en", "1600000000000000011")},
				{retweet, attrs("retweet", "en", "1600000000000000012")},
				{quoteDE, attrs("quote", "de", "1600000000000000013")},
				{noLang, attrs("tweet", "", "1600000000000000014")},
				{bigID, attrs("tweet", "en", "9007199254740993")},
			},
		},
		{
			name:   "language filter drops tweets, keeps stream errors",
			script: append(xstreamtest.Messages(tweetEN, quoteDE, noLang, replyEN), xstreamtest.OperationalDisconnect()...),
			langs:  []string{"EN"},
			want: Summary{Published: 3, ByKind: map[string]int{"tweet": 1, "reply": 1, "stream_error": 1},
				DroppedByLang: map[string]int{"de": 1, "none": 1}, Reconnects: map[string]int{"stream_error": 1}},
			wantMsgs: []received{
				{tweetEN, attrs("tweet", "en", "1600000000000000010")},
				{replyEN, attrs("reply", "en", "1600000000000000011")},
				{stop, attrs("stream_error", "", "")},
			},
		},
		{
			name: "operational disconnect is published and the run reconnects",
			script: append(append(xstreamtest.Messages(tweetEN), xstreamtest.OperationalDisconnect()...),
				xstreamtest.Message(replyEN)),
			want: Summary{Published: 3, ByKind: map[string]int{"tweet": 1, "reply": 1, "stream_error": 1},
				DroppedByLang: map[string]int{}, Reconnects: map[string]int{"stream_error": 1}},
			wantMsgs: []received{
				{tweetEN, attrs("tweet", "en", "1600000000000000010")},
				{replyEN, attrs("reply", "en", "1600000000000000011")},
				{stop, attrs("stream_error", "", "")},
			},
		},
		{
			name:   "a cut-off line is counted, not published",
			script: []xstreamtest.Step{xstreamtest.Message(tweetEN), xstreamtest.CutAndDrop(retweet), xstreamtest.Message(replyEN)},
			want: Summary{Published: 2, ByKind: map[string]int{"tweet": 1, "reply": 1}, RejectedLines: 1,
				DroppedByLang: map[string]int{}, Reconnects: map[string]int{"connection_dropped": 1}},
			wantMsgs: []received{
				{tweetEN, attrs("tweet", "en", "1600000000000000010")},
				{replyEN, attrs("reply", "en", "1600000000000000011")},
			},
		},
		{
			name:   "an unclassifiable message is published as unclassified",
			script: xstreamtest.Messages(notX, tweetEN),
			want: Summary{Published: 2, ByKind: map[string]int{"tweet": 1, "unclassified": 1}, Unclassified: 1,
				DroppedByLang: map[string]int{}, Reconnects: map[string]int{}},
			wantMsgs: []received{
				{tweetEN, attrs("tweet", "en", "1600000000000000010")},
				{notX, attrs("unclassified", "", "")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, true, xstreamtest.WithScript(tt.script...))
			s := testSettings()
			s.Langs = tt.langs
			code, got, body := call(t, e.streamer(s, e.x.Token()))
			if code != http.StatusOK {
				t.Errorf("status = %d, want 200; body %s", code, body)
			}
			if diff := cmp.Diff(tt.want, got, ignoreRunFacts); diff != "" {
				t.Errorf("summary mismatch (-want +got):\n%s", diff)
			}
			if got.LeaseGeneration != 1 {
				t.Errorf("lease_generation = %d, want 1", got.LeaseGeneration)
			}
			if diff := cmp.Diff(sortReceived(tt.wantMsgs), e.pull(len(tt.wantMsgs))); diff != "" {
				t.Errorf("published messages mismatch (-want +got):\n%s", diff)
			}
			if got, want := e.x.Stats().MaxConcurrent, 1; got != want {
				t.Errorf("max concurrent connections = %d, want %d", got, want)
			}
		})
	}
}

func TestRunLogsRejectedLine(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.CutAndDrop(retweet)))
	if code, _, body := call(t, e.streamer(testSettings(), e.x.Token())); code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", code, body)
	}
	lines := logLines(t, e.logs.String(), "x stream line rejected, not published")
	if len(lines) != 1 {
		t.Fatalf("%d rejected-line log lines, want 1", len(lines))
	}
	if got, want := lines[0]["line"], retweet[:len(retweet)/2]; got != want {
		t.Errorf("logged line = %q, want %q", got, want)
	}
}

func TestRunSyncsRules(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithRules(
		xstream.Rule{Value: "cat", Tag: "old"},
		xstream.Rule{Value: "dog", Tag: "dogs"},
	))
	s := testSettings()
	s.Rules = []xstream.Rule{
		{Value: "dog", Tag: "dogs"},
		{Value: "bird has:images", Tag: "birds"},
		{Value: `"unbalanced`, Tag: "bad"},
	}
	code, got, body := call(t, e.streamer(s, e.x.Token()))
	if code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", code, body)
	}
	if got.Rules == nil {
		t.Fatalf("summary has no rules: %s", body)
	}
	ignoreID := cmpopts.IgnoreFields(xstream.StoredRule{}, "ID")
	want := &RulesSummary{
		Added:     []xstream.StoredRule{{Value: "bird has:images", Tag: "birds"}},
		Deleted:   []xstream.StoredRule{{Value: "cat", Tag: "old"}},
		Invalid:   []InvalidRule{{Value: `"unbalanced`, Tag: "bad"}},
		Unchanged: 1,
	}
	if diff := cmp.Diff(want, got.Rules, ignoreID, cmpopts.IgnoreFields(InvalidRule{}, "Title", "Details")); diff != "" {
		t.Errorf("rules summary mismatch (-want +got):\n%s", diff)
	}
	if len(got.Rules.Invalid) == 1 && (got.Rules.Invalid[0].Title == "" || len(got.Rules.Invalid[0].Details) == 0) {
		t.Errorf("invalid rule %+v has no title or details from X", got.Rules.Invalid[0])
	}
	wantStored := []xstream.StoredRule{{Value: "dog", Tag: "dogs"}, {Value: "bird has:images", Tag: "birds"}}
	if diff := cmp.Diff(wantStored, e.x.Rules(), ignoreID); diff != "" {
		t.Errorf("rules on the server mismatch (-want +got):\n%s", diff)
	}
}

func TestRunLeavesRulesAloneWithoutConfig(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithRules(xstream.Rule{Value: "cat"}))
	code, got, body := call(t, e.streamer(testSettings(), e.x.Token()))
	if code != http.StatusOK || got.Rules != nil {
		t.Errorf("status %d, rules %+v; want 200 and no rules in %s", code, got.Rules, body)
	}
	if n := len(e.x.Stats().RulesRequests); n != 0 {
		t.Errorf("%d rules requests, want 0", n)
	}
}

func TestOverlappingRuns(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.Messages(tweetEN, replyEN)...))
	set := testSettings()
	// Racing transactions take the Firestore emulator a few seconds to settle; the winner
	// must have time left to read.
	set.Duration = 6 * time.Second
	s := e.streamer(set, e.x.Token())
	type answer struct {
		code int
		sum  Summary
		body string
	}
	answers := make([]answer, 2)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			code, sum, body := call(t, s)
			answers[i] = answer{code, sum, body}
		})
	}
	wg.Wait()
	var streamed, skipped int
	for _, a := range answers {
		if a.code != http.StatusOK {
			t.Errorf("status = %d, want 200; body %s", a.code, a.body)
		}
		switch {
		case a.sum.Skipped:
			skipped++
			if !strings.HasPrefix(a.sum.Reason, "another run holds the stream until ") {
				t.Errorf("skip reason = %q, want it to say until when another run holds the stream", a.sum.Reason)
			}
			if strings.Contains(a.body, "published") {
				t.Errorf("skipped answer %s carries counts", a.body)
			}
		case a.sum.Published == 2:
			streamed++
		}
	}
	if streamed != 1 || skipped != 1 {
		t.Errorf("%d runs streamed and %d skipped, want 1 and 1: %+v", streamed, skipped, answers)
	}
	st := e.x.Stats()
	if st.MaxConcurrent != 1 || st.StreamRequests != 1 {
		t.Errorf("server saw %d stream requests, at most %d at once; want 1 and 1", st.StreamRequests, st.MaxConcurrent)
	}
}

func TestLeaseExpiryHandsOver(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.Message(tweetEN)))
	set := testSettings()
	// A run that crashed while holding the lease: it never releases it.
	crashed := e.lease("crashed-run", set.LeaseTTL)
	if ok, err := crashed.Acquire(context.Background()); !ok || err != nil {
		t.Fatalf("crashed run's Acquire() = %v, %v; want true, nil", ok, err)
	}
	expiry := e.clock().Add(set.LeaseTTL)
	s := e.streamer(set, e.x.Token())

	code, got, body := call(t, s)
	if code != http.StatusOK || !got.Skipped {
		t.Fatalf("run while held: status %d, %s; want 200 skipped", code, body)
	}
	// The reason names the crashed holder's expiry (to the millisecond: the clocks differ by the calls between).
	if !strings.Contains(got.Reason, expiry.UTC().Format("2006-01-02T15:04:05")) || !strings.Contains(got.Reason, "crashed-run") {
		t.Errorf("skip reason = %q, want the holder crashed-run and its expiry around %s", got.Reason, expiry.UTC())
	}
	if n := e.x.Stats().StreamRequests; n != 0 {
		t.Errorf("skipped run made %d stream requests, want 0", n)
	}

	e.advance(set.LeaseTTL + time.Second)
	code, got, body = call(t, s)
	if code != http.StatusOK || got.Skipped || got.Published != 1 {
		t.Fatalf("run after expiry: status %d, %s; want 200 with 1 published", code, body)
	}
	if got.LeaseGeneration != 2 {
		t.Errorf("lease_generation = %d, want 2 (the crashed run held 1)", got.LeaseGeneration)
	}
}

func TestLeaseLostStopsReading(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.Message(tweetEN)))
	set := testSettings()
	set.Duration = 30 * time.Second
	s := e.streamer(set, e.x.Token())

	type answer struct {
		code int
		sum  Summary
		body string
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		code, sum, body := call(t, s)
		done <- answer{code, sum, body}
	}()
	// Once the tweet is in Pub/Sub, the run is streaming.
	if diff := cmp.Diff([]received{{tweetEN, attrs("tweet", "en", "1600000000000000010")}}, e.pull(1)); diff != "" {
		t.Fatalf("published messages mismatch (-want +got):\n%s", diff)
	}
	// The run's hold expires (say its renewals failed) and another run takes the lease.
	e.advance(set.LeaseTTL + time.Second)
	other := e.lease("next-run", set.LeaseTTL)
	if ok, err := other.Acquire(context.Background()); !ok || err != nil {
		t.Fatalf("next run's Acquire() = %v, %v; want true, nil", ok, err)
	}

	var a answer
	select {
	case a = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the run did not stop after losing its lease")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("run took %s, want it to stop well before its 30 s read", elapsed)
	}
	if a.code != http.StatusInternalServerError || a.sum.LeaseLost == "" || a.sum.Published != 1 {
		t.Errorf("status %d, %s; want 500 with lease_lost and the message read before published", a.code, a.body)
	}
	// The run left the lease alone: the next run still holds it.
	if err := other.Renew(context.Background()); err != nil {
		t.Errorf("next run's Renew() = %v, want nil", err)
	}
}

func TestRunRefusedByX(t *testing.T) {
	tests := []struct {
		name       string
		opts       []xstreamtest.Option
		token      string
		rules      []xstream.Rule
		wantStatus int
		wantTitle  string
	}{
		{name: "bad token", token: "wrong", wantStatus: 401, wantTitle: "Unauthorized"},
		{name: "bad token, rules configured", token: "wrong", rules: []xstream.Rule{{Value: "cat"}}, wantStatus: 401, wantTitle: "Unauthorized"},
		{name: "not enrolled", opts: []xstreamtest.Option{xstreamtest.WithForbidden()}, wantStatus: 403, wantTitle: "Client Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, true, tt.opts...)
			set := testSettings()
			set.Rules = tt.rules
			forgot := 0
			set.ForgetToken = func() { forgot++ }
			token := tt.token
			if token == "" {
				token = e.x.Token()
			}
			code, got, body := call(t, e.streamer(set, token))
			if code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500; body %s", code, body)
			}
			if got.XError == nil || got.XError.Status != tt.wantStatus || got.XError.Title != tt.wantTitle || got.XError.Detail == "" {
				t.Errorf("x_error = %+v, want status %d, title %q and a detail", got.XError, tt.wantStatus, tt.wantTitle)
			}
			if !strings.Contains(got.Error, tt.wantTitle) {
				t.Errorf("error = %q, want it to name %q", got.Error, tt.wantTitle)
			}
			if wantForgot := map[bool]int{true: 1, false: 0}[tt.wantStatus == 401]; forgot != wantForgot {
				t.Errorf("ForgetToken called %d times, want %d", forgot, wantForgot)
			}
			// Released: the next run takes the lease at once.
			if ok, err := e.lease("next-run", set.LeaseTTL).Acquire(context.Background()); !ok || err != nil {
				t.Errorf("next run's Acquire() = %v, %v; want true, nil (the lease released)", ok, err)
			}
		})
	}
}

func TestRunPublishFailure(t *testing.T) {
	e := newTestEnv(t, false, xstreamtest.WithScript(xstreamtest.Messages(tweetEN, replyEN)...))
	code, got, body := call(t, e.streamer(testSettings(), e.x.Token()))
	if code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500; body %s", code, body)
	}
	if got.PublishFailed != 2 || got.Published != 0 {
		t.Errorf("publish_failed = %d, published = %d; want 2 and 0", got.PublishFailed, got.Published)
	}
	lines := logLines(t, e.logs.String(), "publishing an x stream message failed")
	var data []string
	for _, l := range lines {
		if l["severity"] != "ERROR" {
			t.Errorf("publish failure logged at %v, want ERROR", l["severity"])
		}
		d, _ := l["data"].(string)
		data = append(data, d)
	}
	if diff := cmp.Diff([]string{tweetEN, replyEN}, data, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("logged data mismatch (-want +got):\n%s", diff)
	}
}

func TestRunStopsBeforeRequestDeadline(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.Message(tweetEN)))
	set := testSettings()
	set.Duration = 30 * time.Second
	set.Margin = 300 * time.Millisecond
	s := e.streamer(set, e.x.Token())
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	got, err := s.Run(ctx)
	if err != nil || got.Published != 1 {
		t.Errorf("Run() = %+v, %v; want 1 published, nil", got, err)
	}
	if ctx.Err() != nil {
		t.Errorf("Run() returned after the request deadline (%s), want before it", time.Since(start))
	}
	if ok, err := e.lease("next-run", set.LeaseTTL).Acquire(context.Background()); !ok || err != nil {
		t.Errorf("next run's Acquire() = %v, %v; want true, nil (the lease released)", ok, err)
	}
}

func TestRunWithoutTimeToRead(t *testing.T) {
	e := newTestEnv(t, true)
	set := testSettings()
	set.Margin = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := e.streamer(set, e.x.Token()).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "no time to read") {
		t.Errorf("Run() error = %v, want one saying there is no time to read", err)
	}
	if n := e.x.Stats().StreamRequests; n != 0 {
		t.Errorf("%d stream requests, want 0", n)
	}
}

// TestRunWaitsForTheHandOver: against the Firestore emulator, a run that arrives while another
// reads and whose wait outlasts the holder's announced window waits and takes over on release;
// one whose wait ends before that window answers skipped at once, naming it.
func TestRunWaitsForTheHandOver(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithNumberedStream(50*time.Millisecond))
	ctx := context.Background()
	set := testSettings()
	set.Duration = 3 * time.Second
	set.LeaseWait = 30 * time.Second
	set.LeasePoll = 50 * time.Millisecond
	var (
		sumA Summary
		errA error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sumA, errA = e.streamer(set, e.x.Token()).Run(ctx)
	}()
	waitFor(t, "the first run's announced read window", func() bool {
		by, _, err := e.lease("probe", set.LeaseTTL).Planned(ctx)
		return err == nil && by != ""
	})

	short := set
	short.LeaseWait = 100 * time.Millisecond
	sumC, err := e.streamer(short, e.x.Token()).Run(ctx)
	if err != nil || !sumC.Skipped || !strings.HasPrefix(sumC.Reason, "another run reads the stream until ") {
		t.Errorf("run with a short wait = %+v, %v; want skipped, saying until when the holder reads", sumC, err)
	}

	sumB, errB := e.streamer(set, e.x.Token()).Run(ctx)
	<-done
	if errA != nil || errB != nil {
		t.Fatalf("runs failed: %v; %v", errA, errB)
	}
	if sumB.Skipped || sumB.WaitedS <= 0 || sumB.Connections != 1 || sumB.Published == 0 {
		t.Errorf("waiting run = %+v; want it to wait, connect once and publish", sumB)
	}
	if sumB.LeaseGeneration != sumA.LeaseGeneration+1 {
		t.Errorf("lease generations %d then %d, want consecutive", sumA.LeaseGeneration, sumB.LeaseGeneration)
	}
	if st := e.x.Stats(); st.MaxConcurrent != 1 {
		t.Errorf("X saw %d connections at once, want 1", st.MaxConcurrent)
	}
}
