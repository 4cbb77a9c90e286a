package rankings

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mix is n events as the rankings benchmark sends them (scripts/bench, rankingMessages): 70%
// tweets with a hot hashtag and one of 500 others, 10% retweets of 50 originals, 10% searches
// of 300 terms, 10% detail views by 1,000 users of 200 items, all in one second.
func mix(n int, prefix string) []Entry {
	out := make([]Entry, 0, n)
	for i := range n {
		id := fmt.Sprint(5000000000 + i)
		switch i % 10 {
		case 7:
			out = append(out, retweet(id, fmt.Sprint(6000000000+i%50), 0, prefix+id))
		case 8:
			out = append(out, Entry{Key: "e:" + prefix + id, PublishTime: t0, MessageID: prefix + id, Counts: []Count{{SearchTerms, fmt.Sprint("term ", i%300)}}})
		case 9:
			out = append(out, view(prefix+id, fmt.Sprint("user-", i%1000), fmt.Sprint("item-", i%200), 0))
		default:
			out = append(out, tweet(id, 0, prefix+id, "hot", fmt.Sprint("tag", i%500)))
		}
	}
	return out
}

// TestLogLayoutWritesAQuarterOfAWritePerEvent: a group of 1,000 events of the benchmark's mix
// costs at most 0.25 document writes per event in the log layout (issue 27's bound), and at
// least one per event in the markers layout, counted on the wire.
func TestLogLayoutWritesAQuarterOfAWritePerEvent(t *testing.T) {
	once(t)
	for _, tc := range []struct {
		layout   Layout
		min, max float64
	}{
		{LayoutLog, 0, 0.25},
		{LayoutMarkers, 1, 2},
	} {
		t.Run(string(tc.layout), func(t *testing.T) {
			s, log := loggedStore(t, Options{Layout: tc.layout, MaxBatch: 1000, Linger: time.Minute}, nil)
			es := mix(1000, "w")
			applyAll(t, s, es...)
			per := float64(log.TotalWrites) / float64(len(es))
			t.Logf("%s: %d writes in %d commits for %d events: %.3f a ranked event (stats %+v)", tc.layout, log.TotalWrites, log.Commits, len(es), per, s.Stats())
			if per < tc.min || per > tc.max {
				t.Errorf("%s: %.3f writes a ranked event, want within [%.2f, %.2f]", tc.layout, per, tc.min, tc.max)
			}
			if got := countOf(t, s, Hashtags, "hot"); got != 700 {
				t.Errorf("hot counts %d, want 700", got)
			}
		})
	}
}

// TestLogLayoutRecoversACommitWhoseInstanceDied: an instance commits a redelivered event (its
// count is then twice) and dies before its look-up; Pub/Sub delivers the event again, to
// another instance, which reconciles both: the event counts once.
func TestLogLayoutRecoversACommitWhoseInstanceDied(t *testing.T) {
	once(t)
	// 0: alive; 1: its counts' commit landed, and every call after fails; 2: revived, for the
	// test's cleanup.
	var state atomic.Int32
	dead := status.Error(codes.PermissionDenied, "injected: the instance is gone (an error no client retries)")
	dying := faultyStore(t, Options{Layout: LayoutLog}, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if state.Load() == 1 {
			return dead
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		if isCommit(method) && countsIn(req) && state.Load() == 0 {
			state.Store(1)
		}
		return err
	}, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if state.Load() == 1 {
			return nil, dead
		}
		return streamer(ctx, desc, cc, method, opts...)
	})
	project := strings.Split(dying.c.Collection("x").Path, "/")[1]
	c, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	healthy := NewStore(c, testLayout(Options{Layout: LayoutLog}))
	t.Cleanup(healthy.Close)

	e := tweet("77", 0, "m77", "dying")
	applyAll(t, healthy, e)
	state.Store(0)
	if err := dying.Apply(context.Background(), e); err == nil {
		t.Fatal("Apply on the dying instance = nil, want its error")
	}
	dying.Close()
	state.Store(2)
	if got := countOf(t, healthy, Hashtags, "dying"); got != 2 {
		t.Fatalf("after the dying commit: counts %d, want 2 (the commit landed, its reconcile did not)", got)
	}
	applyAll(t, alone(t, healthy), e) // the redelivery
	if got := countOf(t, healthy, Hashtags, "dying"); got != 1 {
		t.Errorf("after the redelivery: counts %d, want 1 (stats %+v)", got, healthy.Stats())
	}
}

// TestSwitchFromMarkersToLog: a database the markers layout wrote, then the log layout: its
// markers still make redeliveries count once, an earlier message moves a marker's count, a
// delete takes a marker's counts out and a marker's tombstone keeps its tweet from counting,
// and the latest tweets and the retweets' text come from both.
func TestSwitchFromMarkersToLog(t *testing.T) {
	once(t)
	old := newStore(t, Options{Layout: LayoutMarkers})
	t1, t2, t3 := tweet("1", 0, "m1", "sw"), tweet("2", time.Second, "m2", "sw"), tweet("3", 2*time.Second, "m3", "sw")
	r9 := retweet("9", "8", time.Second, "m9")
	ev := Entry{Key: "e:q1", PublishTime: t0, MessageID: "mq1", Counts: []Count{{SearchTerms, "switch"}}}
	applyAll(t, old, t1, t2, t3, r9, ev, del("5", 0, "d5"))

	s := NewStore(old.c, testLayout(Options{Layout: LayoutLog}))
	t.Cleanup(s.Close)
	t4 := tweet("4", 3*time.Second, "m4", "sw")
	// Redeliveries of the markers' events, a delete of 2, an earlier message of 3, a tweet whose
	// tombstone is a marker, and a new tweet.
	applyAll(t, s, t1, r9, ev, del("2", time.Minute, "d2"), tweet("3", -time.Hour, "m0", "sw"), tweet("5", 0, "m5", "sw"), t4)
	now := t0.Add(5 * time.Minute)
	if diff := cmp.Diff([]Item{{Key: "sw", Count: 2}}, top(t, s, Hashtags, "15m", now)); diff != "" {
		t.Errorf("hashtags 15m: 1 and 4 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Item{{Key: "sw", Count: 3}}, top(t, s, Hashtags, "1d", now)); diff != "" {
		t.Errorf("hashtags 1d: 1, 3 and 4 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Item{{Key: "switch", Count: 1}}, top(t, s, SearchTerms, "1d", now)); diff != "" {
		t.Errorf("search terms (-want +got):\n%s", diff)
	}
	want := []Item{{Key: "8", Count: 1, Text: "original text 8", AuthorHandle: "orig"}}
	if diff := cmp.Diff(want, top(t, s, Retweets, "1d", now)); diff != "" {
		t.Errorf("retweets (-want +got):\n%s", diff)
	}
	latest, _, err := s.Latest(context.Background(), mustSearch(t, "#sw"), nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tw := range latest {
		ids = append(ids, tw.ID)
	}
	// 4 (log), 1 (marker), 3 as its earlier message has it (created an hour before).
	if diff := cmp.Diff([]string{"4", "1", "3"}, ids); diff != "" {
		t.Errorf("latest #sw (-want +got):\n%s", diff)
	}
	// A reader (ServeRankings) sees the same.
	r := NewStore(old.c, testLayout(Options{Layout: LayoutLog, ReadOnly: true}))
	t.Cleanup(r.Close)
	if diff := cmp.Diff([]Item{{Key: "sw", Count: 3}}, top(t, r, Hashtags, "1d", now)); diff != "" {
		t.Errorf("a reader's hashtags 1d (-want +got):\n%s", diff)
	}
}

// TestReaderNeverRecordsTheLayoutStart: a read-only store on a database no writer has run the
// log layout on reads markers and writes nothing (its grant could not).
func TestReaderNeverRecordsTheLayoutStart(t *testing.T) {
	once(t)
	w := newStore(t, Options{Layout: LayoutMarkers})
	applyAll(t, w, tweet("1", 0, "m1", "ro"))
	r := NewStore(w.c, testLayout(Options{Layout: LayoutLog, ReadOnly: true}))
	t.Cleanup(r.Close)
	latest, _, err := r.Latest(context.Background(), mustSearch(t, "#ro"), nil, 10)
	if err != nil || len(latest) != 1 {
		t.Fatalf("a reader's latest #ro = %v, %v; want the marker's tweet", latest, err)
	}
	_, err = w.c.Collection(w.o.Collections.Meta).Doc(metaDoc).Get(context.Background())
	if status.Code(err) != codes.NotFound {
		t.Errorf("the layout's start after a reader: %v, want not found", err)
	}
}

// TestLogLayoutRedeliveredBacklog: a group of 1,000 events counted, then delivered again whole
// (blind: each key met in the first record and reconciled), then again (read first: nothing
// counts, so nothing but the views is written): the counts stay exact.
func TestLogLayoutRedeliveredBacklog(t *testing.T) {
	once(t)
	s, log := loggedStore(t, Options{Layout: LayoutLog, MaxBatch: 1000, Linger: time.Minute}, nil)
	es := mix(1000, "b")
	for pass := range 3 {
		before := log.TotalWrites
		applyAll(t, s, es...)
		if got := countOf(t, s, Hashtags, "hot"); got != 700 {
			t.Errorf("pass %d: hot counts %d, want 700 (stats %+v)", pass, got, s.Stats())
		}
		// Retweets of 6000000007 are events 7, 57, 107, ... (20); term 8 is searched by 8,
		// 308, 608 and 908.
		if got := countOf(t, s, Retweets, "6000000007"); got != 20 {
			t.Errorf("pass %d: 6000000007's retweets count %d, want 20", pass, got)
		}
		if got := countOf(t, s, SearchTerms, "term 8"); got != 4 {
			t.Errorf("pass %d: term 8 counts %d, want 4", pass, got)
		}
		if pass == 2 {
			if w := log.TotalWrites - before; w > 100 {
				t.Errorf("the third delivery wrote %d documents, want only its 100 views", w)
			}
		}
	}
}

// once skips a test that sets its layouts itself in the package's second run (TestMain).
func once(t *testing.T) {
	if os.Getenv("RANKINGS_TEST_LAYOUT") == string(LayoutMarkers) {
		t.Skip("sets its own layouts: run in the first pass")
	}
}
