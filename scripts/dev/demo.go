package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/signin"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// feedEvery is how often --serve publishes a tweet of the sample stream, so a person watching
// the deck sees tweets arrive.
const feedEvery = 1500 * time.Millisecond

// demoSummary is the demo's last line.
type demoSummary struct {
	OK          bool                      `json:"ok"`
	Rows        map[string]int            `json:"rows"`
	DeadLetters int                       `json:"dead_letters"`
	DeadReasons map[string]int            `json:"dead_letter_reasons,omitempty"`
	Stream      map[string]any            `json:"stream"`
	AppEvents   map[string]int            `json:"app_events"`
	Burst       *burstSummary             `json:"burst"`
	Backfill    *backfillSummary          `json:"backfill"`
	TopHashtags []hashtagCount            `json:"top_hashtags"`
	Rankings    []localstack.RankingCheck `json:"rankings"`
	Deck        *deckCheck                `json:"deck"`
	Checks      *checksSummary            `json:"checks"`
	ElapsedS    float64                   `json:"elapsed_s"`
	Problems    []string                  `json:"problems,omitempty"`
}

// burstSummary is the demo's malformed burst: what it published and whether `dev status`'s
// reading of the stack showed every message by its reason.
type burstSummary struct {
	Published    int              `json:"published"`
	Reasons      map[string]int64 `json:"reasons"`
	SeenByStatus bool             `json:"seen_by_status"`
}

type hashtagCount struct {
	Hashtag string `json:"hashtag" bigquery:"hashtag"`
	Tweets  int64  `json:"tweets" bigquery:"tweets"`
}

// sampleAppEvents are what an app posts: searches, detail views, a kind we do not model yet,
// the same event twice, and one that can never be accepted.
var sampleAppEvents = []string{
	`{"id":"ev-1","kind":"search","user_id":"u1","session_id":"s1","query":"bigquery partitioning","results_count":12}`,
	`{"id":"ev-2","kind":"detail_view","user_id":"u1","session_id":"s1","item_id":"doc-42"}`,
	`{"id":"ev-3","kind":"search","user_id":"u2","query":"cloud tasks rate limits","results_count":3}`,
	`{"id":"ev-4","kind":"add_to_cart","user_id":"u2","item_id":"sku-7","properties":{"price":"12.50"}}`,
	`{"id":"ev-2","kind":"detail_view","user_id":"u1","session_id":"s1","item_id":"doc-42"}`,
	`{"id":"ev-5","kind":"search","user_id":"u3"}`,
}

func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	serve := fs.Bool("serve", false, "keep everything running after the demo, until Ctrl-C")
	jsonOnly := fs.Bool("json", false, "print only the final JSON object on stdout")
	verbose := fs.Bool("verbose", false, "show the emulators' and functions' output")
	videos := fs.Int("videos", 10, "videos in the demo backfill")
	days := fs.Int("days", 30, "days per video in the demo backfill")
	data := fs.String("data", "", "keep the local BigQuery and Firestore data in this directory between runs")
	noChecks := fs.Bool("no-checks", false, "skip the production checks (IAM roles from Terraform, Firestore's limits) for speed; also "+localstack.ChecksEnv+"=off")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (commands: replay, backfill, query, status)", fs.Arg(0))
	}
	out := io.Writer(os.Stdout)
	if *jsonOnly {
		out = io.Discard
	}
	start := time.Now()
	log := logger()
	root, err := localstack.ModuleRoot()
	if err != nil {
		return err
	}
	lines, err := readLines(filepath.Join(root, "shared", "localstack", "testdata", "sample_stream.jsonl"))
	if err != nil {
		return err
	}
	// --serve signs people in as deployed with deck_sign_in (the plain demo keeps sign-in off).
	authHost := ""
	if *serve {
		em, err := serveSignIn(ctx, root, localstack.DefaultProject, os.Stderr)
		if err != nil {
			return err
		}
		if em != nil {
			defer em.Close()
			authHost = em.Host
		}
	}
	// The demo's backfill runs the first registered source whose fake's kit has sizes.
	source, err := localstack.SizedSource()
	if err != nil {
		return err
	}
	s, err := localstack.Start(ctx, localstack.Options{
		Log: log, Logs: processLogs(*verbose), DataDir: *data, Rankings: true, RankingsCache: *serve, Unchecked: *noChecks,
		AuthEmulatorHost: authHost,
		Stream:           &localstack.StreamOptions{Lines: lines, Rules: []map[string]string{{"value": "#golang OR #bigquery OR #gcp", "tag": "demo"}}},
		Backfill: &localstack.BackfillOptions{Fakes: map[string][]sourcestest.Option{source: {
			sourcestest.WithLatency(20 * time.Millisecond), sourcestest.WithFailRate(0.02), sourcestest.WithTokenTTL(30 * time.Second),
		}}},
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if *serve {
		fmt.Fprintf(os.Stderr, "\n== The deck: %s   (open it in a browser; the demo runs first, then the sample stream replays in a loop)\n", deckLink(s))
		if s.SignInOn() {
			// The demo user exists from here on, for the page and the banner's commands.
			if _, err := demoToken(ctx, s); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "   %s\n", signInHint(localstack.DemoUser))
		}
	}
	sum := &demoSummary{Rows: map[string]int{}, AppEvents: map[string]int{}}

	fmt.Fprintln(out, "\n== 1. StreamTweets reads the local X stream (a lease in Firestore, rules synced, then the stream)")
	stream, err := runStreamTweets(ctx, s.Functions.URL, out)
	if err != nil {
		return err
	}
	sum.Stream = stream
	fmt.Fprintf(out, "   published %v messages: %s\n", stream["published"], counts(stream["by_kind"]))
	if rules, ok := stream["rules"].(map[string]any); ok {
		fmt.Fprintf(out, "   rules: %d added, %d deleted, %d invalid, %v unchanged\n",
			lenOf(rules["added"]), lenOf(rules["deleted"]), lenOf(rules["invalid"]), rules["unchanged"])
	}

	fmt.Fprintln(out, "\n== 2. An app posts events to CollectEvents (NDJSON)")
	var collected struct {
		Accepted, Rejected, Duplicates, Failed int
		Results                                []struct {
			Index         int
			ID, Status    string
			Field, Reason string
		}
	}
	body := []byte(strings.Join(sampleAppEvents, "\n"))
	if err := postJSON(ctx, s.Functions.URL+"/CollectEvents", "application/x-ndjson", body, &collected); err != nil {
		return fmt.Errorf("posting app events: %w", err)
	}
	sum.AppEvents = map[string]int{"accepted": collected.Accepted, "rejected": collected.Rejected, "duplicates": collected.Duplicates, "failed": collected.Failed}
	fmt.Fprintf(out, "   %d accepted, %d duplicate, %d rejected\n", collected.Accepted, collected.Duplicates, collected.Rejected)
	for _, r := range collected.Results {
		if r.Status == "rejected" {
			fmt.Fprintf(out, "   event %d rejected: %s: %s\n", r.Index, r.Field, r.Reason)
		}
	}

	fmt.Fprintln(out, "\n== 3. A broken producer publishes malformed events to the topic (a dead-letter burst)")
	sum.Burst = &burstSummary{Reasons: localstack.BurstReasons()}
	if sum.Burst.Published, err = s.PublishMalformedBurst(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   published %d messages no loader can decode; LoadEvents dead-letters each with its reason\n", sum.Burst.Published)

	fmt.Fprintf(out, "\n== 4. A %s backfill (%d videos x %d days) over HTTP, watched with scripts/backfill\n", source, *videos, *days)
	cli, err := buildCLI(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(cli))
	spec, expected := localstack.SourceKits[source].Sized(s.Backfill, *videos, *days, "day", time.Now().UTC().AddDate(0, 0, -3))
	if sum.Backfill, err = backfillSpecAndCheck(ctx, s, cli, spec, expected, 5*time.Minute, false); err != nil {
		return err
	}
	b := sum.Backfill
	fmt.Fprintf(out, "   %s: %s, %d/%d tasks, %d failed, %d rows (%d expected, %d lost, %d duplicated), %d API calls, %.1f tasks/s\n",
		b.Job, b.State, b.Succeeded, b.Planned, b.Failed, b.Rows, b.ExpectedRows, b.LostRows, b.DuplicateRows, b.APICalls, b.TasksPerS)

	fmt.Fprintln(out, "\n== 5. Waiting until every published message is loaded or dead-lettered")
	published := collected.Accepted + sum.Burst.Published
	if n, ok := stream["published"].(float64); ok {
		published += int(n)
	}
	if err := waitLoaded(ctx, s, published, time.Minute); err != nil {
		return err
	}
	if err := summarize(ctx, s, sum); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 6. The stack's health, as `go run ./scripts/dev status` shows it")
	h := s.Health(ctx, time.Now())
	h.Print(indent{out})
	if sum.Burst.SeenByStatus = localstack.BurstSeen(h, sum.Burst.Reasons); !sum.Burst.SeenByStatus {
		sum.Problems = append(sum.Problems, fmt.Sprintf("the health shows dead letters %v, not the burst's %v", h.DeadLettersByReason(), sum.Burst.Reasons))
	}
	sum.ElapsedS = time.Since(start).Seconds()
	fmt.Fprintln(out, "\n== 7. Rankings from ServeRankings, and the same by SQL")
	if err := checkRankings(ctx, s, out, sum); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 8. The deck: ServeRankings' page")
	if err := checkDeck(ctx, s, out, sum); err != nil {
		return err
	}
	sum.Checks = summarizeChecks(s, sum)
	sum.OK = len(sum.Problems) == 0
	printSummary(out, sum)
	line, _ := json.Marshal(sum)
	fmt.Println(string(line))
	if *serve {
		remove, err := writeState(s)
		if err != nil {
			return err
		}
		defer remove()
		fmt.Fprintf(os.Stderr, "\n== The deck: %s   (new tweets arrive every %s: the sample stream, replayed with fresh ids)\n", deckLink(s), feedEvery)
		printServe(ctx, s)
		go s.Feed(ctx, lines, feedEvery, log)
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, "\nstopping: functions, emulators, local servers")
	}
	if !sum.OK {
		return fmt.Errorf("the demo found problems: %s", strings.Join(sum.Problems, "; "))
	}
	return nil
}

// streamAttempts is how many times the demo runs StreamTweets before giving up. Cloud Scheduler
// runs it every minute, so a run that fails (on a busy machine, taking the lease can outlast
// its deadline) is followed by another; the demo does the same at once.
const streamAttempts = 4

// streamRetryPause is the wait between two StreamTweets runs of the demo.
const streamRetryPause = 10 * time.Second

// runStreamTweets posts to StreamTweets until a run publishes messages, at most streamAttempts
// times, and returns the last run's answer.
func runStreamTweets(ctx context.Context, base string, out io.Writer) (map[string]any, error) {
	var stream map[string]any
	var err error
	for attempt := 1; attempt <= streamAttempts; attempt++ {
		stream = nil
		err = postJSON(ctx, base+"/StreamTweets", "application/json", nil, &stream)
		published, _ := stream["published"].(float64)
		if err == nil && published > 0 {
			return stream, nil
		}
		why := fmt.Sprint(err)
		if err == nil {
			why = "published nothing" + streamWhy(stream)
		}
		if attempt < streamAttempts {
			// A run that timed out taking the lease may still hold it: give it time to expire
			// (the stack's LEASE_TTL), as the minute between Scheduler's runs would.
			fmt.Fprintf(out, "   run %d: %s; running it again in %s, as Cloud Scheduler would a minute later\n", attempt, why, streamRetryPause)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(streamRetryPause):
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running StreamTweets %d times: %w", streamAttempts, err)
	}
	return stream, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the sample stream: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

func postJSON(ctx context.Context, url, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// waitLoaded waits until the event tables and the dead letters hold want distinct messages.
func waitLoaded(ctx context.Context, s *localstack.Stack, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var parts []string
	for _, t := range event.Tables {
		parts = append(parts, fmt.Sprintf("SELECT message_id FROM `%s.%s.%s`", s.Project, s.Dataset, t))
	}
	q := "SELECT COUNT(DISTINCT message_id) AS n FROM (" + strings.Join(parts, " UNION ALL ") + ")"
	for {
		r, err := s.Query(ctx, q)
		if err != nil {
			return err
		}
		got := int(r.Int(0, "n"))
		if got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %d of %d published messages are loaded or dead-lettered", timeout, got, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// summarize reads the tables through the official BigQuery client, as a user would.
func summarize(ctx context.Context, s *localstack.Stack, sum *demoSummary) error {
	tables := append(append([]string{}, event.Tables...), warehouse.TableBackfillRows)
	for _, t := range tables {
		var r struct{ N int64 }
		where := ""
		if t == warehouse.TableBackfillRows {
			where = " WHERE row_index >= 0" // not the markers of complete fetches
		}
		if err := readOne(ctx, s.BQ.Query(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s.%s`%s", s.Project, s.Dataset, t, where)), &r); err != nil {
			return fmt.Errorf("counting %s: %w", t, err)
		}
		sum.Rows[t] = int(r.N)
	}
	sum.DeadLetters = sum.Rows[event.TableDeadLetters]
	sum.DeadReasons = map[string]int{}
	it, err := s.BQ.Query(fmt.Sprintf("SELECT reason, COUNT(*) AS n FROM `%s.%s.dead_letters` GROUP BY reason", s.Project, s.Dataset)).Read(ctx)
	if err != nil {
		return err
	}
	for {
		var r struct {
			Reason string
			N      int64
		}
		if err := it.Next(&r); err == iterator.Done {
			break
		} else if err != nil {
			return err
		}
		sum.DeadReasons[r.Reason] = int(r.N)
	}
	q := s.BQ.Query(fmt.Sprintf("SELECT LOWER(tag) AS hashtag, COUNT(*) AS tweets FROM `%s.%s.tweets_current`, UNNEST(hashtags) AS tag "+
		"GROUP BY hashtag ORDER BY tweets DESC, hashtag LIMIT 5", s.Project, s.Dataset))
	it, err = q.Read(ctx)
	if err != nil {
		return fmt.Errorf("top hashtags: %w", err)
	}
	for {
		var h hashtagCount
		if err := it.Next(&h); err == iterator.Done {
			break
		} else if err != nil {
			return err
		}
		sum.TopHashtags = append(sum.TopHashtags, h)
	}
	if b := sum.Backfill; b.State != "done" || b.LostRows != 0 || b.DuplicateRows != 0 {
		sum.Problems = append(sum.Problems, fmt.Sprintf("backfill %s ended %s with %d lost and %d duplicated rows", b.Job, b.State, b.LostRows, b.DuplicateRows))
	}
	if sum.Rows[event.TableTweets] == 0 {
		sum.Problems = append(sum.Problems, fmt.Sprintf("no tweets were loaded: StreamTweets published %v messages", sum.Stream["published"])+streamWhy(sum.Stream))
	}
	if sum.Rows[event.TableAppEvents] == 0 {
		sum.Problems = append(sum.Problems, fmt.Sprintf("no app events were loaded: CollectEvents accepted %d of %d", sum.AppEvents["accepted"], len(sampleAppEvents)))
	}
	return nil
}

// streamWhy names, from StreamTweets' JSON answer, why a run published nothing: the fields
// its Summary sets on each such path (skipped with a reason, not_read, a lost lease, X's
// refusal, an error), as " (field: value; ...)", or "" when the answer says nothing.
func streamWhy(stream map[string]any) string {
	var why []string
	for _, k := range []string{"reason", "not_read", "lease_lost", "x_error", "error"} {
		if v, ok := stream[k]; ok && v != nil && v != "" {
			if m, ok := v.(map[string]any); ok {
				v = fmt.Sprintf("%v %v %v", m["status"], m["title"], m["detail"])
			}
			why = append(why, fmt.Sprintf("%s: %v", k, v))
		}
	}
	if rules, ok := stream["rules"].(map[string]any); ok && rules["error"] != nil && rules["error"] != "" {
		why = append(why, fmt.Sprintf("rules error: %v", rules["error"]))
	}
	if len(why) == 0 {
		return ""
	}
	return " (" + strings.Join(why, "; ") + ")"
}

func readOne(ctx context.Context, q *bigquery.Query, dst any) error {
	it, err := q.Read(ctx)
	if err != nil {
		return err
	}
	return it.Next(dst)
}

func printSummary(w io.Writer, sum *demoSummary) {
	fmt.Fprintln(w, "\n== Summary")
	fmt.Fprintln(w, "   rows per table:")
	names := make([]string, 0, len(sum.Rows))
	for n := range sum.Rows {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "     %-16s %6d\n", n, sum.Rows[n])
	}
	fmt.Fprintf(w, "   dead letters: %d\n", sum.DeadLetters)
	for reason, n := range sum.DeadReasons {
		fmt.Fprintf(w, "     %3d  %s\n", n, reason)
	}
	b := sum.Backfill
	fmt.Fprintf(w, "   backfill %s: %s, %d/%d tasks succeeded, %d failed, %d rows, %d API calls, %.1f tasks/s\n",
		b.Job, b.State, b.Succeeded, b.Planned, b.Failed, b.Rows, b.APICalls, b.TasksPerS)
	fmt.Fprintln(w, "   top hashtags (tweets_current, by SQL through the local BigQuery):")
	for _, h := range sum.TopHashtags {
		fmt.Fprintf(w, "     #%-16s %d\n", h.Hashtag, h.Tweets)
	}
	if d := sum.Deck; d != nil {
		fmt.Fprintf(w, "   the deck: GET %s = %d with its HTML page: %v\n", d.URL, d.Status, d.Page)
	}
	if c := sum.Checks; c == nil {
		fmt.Fprintln(w, "   production checks: off")
	} else {
		fmt.Fprintf(w, "   production checks: %d Google API calls checked against Terraform's roles, %d refused\n", c.Calls, c.Refused)
	}
	fmt.Fprintf(w, "   ok: %v in %.1fs\n\n", sum.OK, sum.ElapsedS)
}

// checksSummary counts the functions' calls the stack checked against Terraform's roles.
type checksSummary struct {
	Calls   int `json:"calls"`
	Refused int `json:"refused"`
}

// summarizeChecks counts the checked calls; a refused one is a problem, as it fails deployed.
func summarizeChecks(s *localstack.Stack, sum *demoSummary) *checksSummary {
	if s.Identities == nil {
		return nil
	}
	c := &checksSummary{Calls: len(s.Identities.Decisions())}
	for _, d := range s.Identities.Refused() {
		c.Refused++
		if c.Refused <= 3 {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s was refused %s on %s (%s)", d.Member, d.Permission, d.Resource, d.Method))
		}
	}
	return c
}

func printServe(ctx context.Context, s *localstack.Stack) {
	b := serveBanner{
		Functions: s.Functions.URL, Backfill: s.Backfill.URL,
		BigQuery: s.BigQueryHost, PubSub: s.PubSubHost, Firestore: s.FirestoreHost, Tasks: s.Backfill.TasksHost,
		X: s.XStream.URL(), External: s.External,
	}
	// The backfill lines name the demo's source (the first registered one with sizes).
	if name, err := localstack.SizedSource(); err == nil {
		b.Source, b.SourceAPI = name, s.Backfill.Fake(name).URL()
		if src, ok := backfill.Lookup(name); ok {
			var ex bytes.Buffer
			if json.Compact(&ex, src.Example()) == nil {
				b.Example = ex.String()
			}
		}
	}
	if s.Rankings != nil {
		b.Rankings = s.Rankings.URL
		b.ViewsUser = rankingUsers[0]
		b.ViewsToken, _ = s.ViewToken(b.ViewsUser, time.Now()) // a stack with rankings has a key
		if s.SignInOn() {
			b.AuthEmulator, b.SignInUser = s.AuthEmulatorHost(), localstack.DemoUser
			// A fresh token: the banner is printed after the demo, which can take minutes.
			if tok, err := demoToken(ctx, s); err == nil {
				b.SignInToken = tok
			}
		}
	}
	b.write(os.Stderr)
}

// serveBanner is what --serve prints once the demo is done: every server with its address (the
// ones the stack reused, not started, marked so), then commands to try.
type serveBanner struct {
	Functions, Backfill, Rankings      string // URLs; Rankings is empty without ServeRankings
	ViewsUser, ViewsToken              string // a demo user and a token for its recent views
	BigQuery, PubSub, Firestore, Tasks string // host:port
	X                                  string // URL of the local X API
	// Source is the demo's backfill source, SourceAPI its fake API's URL, Example a spec of it.
	Source, SourceAPI, Example string
	External                   map[string]string // variable -> host:port, for reused servers
	// With sign-in on: the Auth emulator's host:port, the demo user, and its ID token.
	AuthEmulator, SignInUser, SignInToken string
}

func (b serveBanner) write(w io.Writer) {
	server := func(name, host, env string) {
		line := fmt.Sprintf("   %-20s %s   (%s=%s)", name, host, env, host)
		if _, reused := b.External[env]; reused {
			line += "   reused, not started by dev"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\n== Serving until Ctrl-C\n")
	fmt.Fprintf(w, "   %-20s %s/{StreamTweets,CollectEvents,LoadEvents,Backfill,RunBackfillTask}\n", "functions", b.Functions)
	fmt.Fprintf(w, "   %-20s %s/backfills\n", "Backfill API", b.Backfill)
	if b.Rankings != "" {
		fmt.Fprintf(w, "   %-20s %s/rankings   (read-only JSON, Cache-Control and ETag)\n", "ServeRankings", b.Rankings)
	}
	server("BigQuery", b.BigQuery, "BIGQUERY_EMULATOR_HOST")
	server("Pub/Sub emulator", b.PubSub, "PUBSUB_EMULATOR_HOST")
	server("Firestore emulator", b.Firestore, "FIRESTORE_EMULATOR_HOST")
	server("Cloud Tasks", b.Tasks, "CLOUD_TASKS_EMULATOR_HOST")
	if b.AuthEmulator != "" {
		server("Auth emulator", b.AuthEmulator, signin.EmulatorHostEnv)
	}
	if b.Source != "" {
		fmt.Fprintf(w, "   %-20s %s\n", "fake "+b.Source+" API", b.SourceAPI)
	}
	fmt.Fprintf(w, "   %-20s %s\n", "local X API", b.X)
	fmt.Fprintf(w, `
Try:
   curl -s -XPOST -H 'Content-Type: application/json' %[1]s/CollectEvents -d '{"kind":"search","query":"hello"}'
   curl -s -XPOST %[1]s/StreamTweets
   go run ./scripts/backfill --url %[2]s start - <<<'%[3]s'
   go run ./scripts/backfill --url %[2]s status JOB_ID
   go run ./scripts/dev query "SELECT kind, COUNT(*) AS n FROM tweets_dedup GROUP BY kind"   # this stack's BigQuery
   go run ./scripts/dev query                                                         # a SQL prompt
   go run ./scripts/dev status --watch 5s                                             # dead letters, backlog, stream, jobs, 5xx
`, b.Functions, b.Backfill, b.Example)
	if b.Rankings != "" && b.SignInUser != "" {
		fmt.Fprintf(w, "\nSign in: open %s/ and %s.\n", b.Rankings, signInHint(b.SignInUser))
	}
	if b.Rankings != "" {
		// With sign-in on every data request carries an ID token (docs/sign-in.md).
		curl, token := "curl -s", ""
		if b.SignInToken != "" {
			curl = `curl -s -H "Authorization: Bearer $token"`
			token = fmt.Sprintf("   token='%s'   # %s's ID token, for an hour\n", b.SignInToken, b.SignInUser)
		}
		fmt.Fprintf(w, `
Rankings (windows 15m, 1h, 1d; n up to 100):
%[4]s   %[5]s '%[1]s/rankings/hashtags?window=15m&n=10'
   %[5]s '%[1]s/rankings/retweets?window=1h'
   %[5]s '%[1]s/rankings/search_terms?window=1d'
   %[5]s '%[1]s/rankings/popularity?window=1h'
   %[5]s -H 'X-Recent-Views-Token: %[2]s' '%[1]s/recent_views?user_id=%[3]s'   # the token lasts an hour
   %[5]s '%[1]s/tweets?q=%%23gcp&n=5'          # then &cursor=NEXT_CURSOR for older ones
   %[5]s -i '%[1]s/rankings/hashtags?window=15m&n=3' | grep -iE 'etag|cache-control'
`, b.Rankings, b.ViewsToken, b.ViewsUser, token, curl)
	}
}

// indent writes every line with the demo's three-space indent.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		if l != "\n" {
			l = "   " + l
		}
		if _, err := io.WriteString(i.w, l); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// counts renders a JSON object of counts as "a 1, b 2" in key order.
func counts(v any) string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %v", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func lenOf(v any) int {
	l, _ := v.([]any)
	return len(l)
}
