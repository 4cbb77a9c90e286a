package rankings

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Tests of Firestore's limits (https://cloud.google.com/firestore/quotas): what the store sends
// (commitLog, on the wire to the emulator) and what it leaves stored (checkStored, after every
// test that makes a store), both computed here from Google's rules, not from the store's own
// accounting.

// commitLog records the largest of what the store's commits carried.
type commitLog struct {
	mu sync.Mutex
	// Commits counts the commits sent, Bytes is the largest request, Writes the most writes
	// in one, Transforms the most field transforms on one document in one.
	Commits, Bytes, Writes, Transforms int
	// TotalWrites is every write of every commit: what Firestore bills as document writes.
	TotalWrites int
}

func (l *commitLog) record(req *pb.CommitRequest) {
	perDoc := map[string]int{}
	for _, w := range req.GetWrites() {
		name := w.GetUpdate().GetName()
		if t := w.GetTransform(); t != nil {
			name = t.GetDocument()
			perDoc[name] += len(t.GetFieldTransforms())
		}
		perDoc[name] += len(w.GetUpdateTransforms())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Commits++
	l.TotalWrites += len(req.GetWrites())
	l.Bytes = max(l.Bytes, proto.Size(req))
	l.Writes = max(l.Writes, len(req.GetWrites()))
	for _, n := range perDoc {
		l.Transforms = max(l.Transforms, n)
	}
}

// check reports any commit that passed a limit.
func (l *commitLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Bytes > maxRequestBytes || l.Writes > maxWrites || l.Transforms > maxDocTransforms {
		t.Errorf("largest commit: %d bytes, %d writes, %d transforms on one document; want at most %d, %d, %d",
			l.Bytes, l.Writes, l.Transforms, maxRequestBytes, maxWrites, maxDocTransforms)
	}
	t.Logf("%d commits; largest %d bytes, %d writes, %d transforms on one document", l.Commits, l.Bytes, l.Writes, l.Transforms)
}

// loggedStore is a Store whose commits are recorded in the returned log; refuse, if not nil,
// answers a commit instead of the emulator when it returns an error.
func loggedStore(t *testing.T, o Options, refuse func(*pb.CommitRequest) error) (*Store, *commitLog) {
	t.Helper()
	log := &commitLog{}
	s := faultyStore(t, o, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if c, ok := req.(*pb.CommitRequest); ok && isCommit(method) {
			log.record(c)
			if refuse != nil {
				if err := refuse(c); err != nil {
					return err
				}
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	t.Cleanup(func() { log.check(t) })
	return s, log
}

// checkStored walks every document of c's project and reports any that passes a limit: its
// storage size (https://cloud.google.com/firestore/docs/storage-size), a field name or path,
// or its index entries (counted as if every field were indexed, as the emulator does). A
// counter document must also be within the store's own budget.
func checkStored(t *testing.T, c *firestore.Client, counts string) {
	t.Helper()
	ctx := context.Background()
	colls, err := c.Collections(ctx).GetAll()
	if err != nil {
		t.Fatalf("listing collections: %v", err)
	}
	docs, largest := 0, 0
	for _, coll := range colls {
		it := coll.Documents(ctx)
		for {
			snap, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatalf("reading %s: %v", coll.ID, err)
			}
			docs++
			f := storedFields{}
			f.walk("", snap.Data())
			size := len(coll.ID) + 1 + len(snap.Ref.ID) + 1 + 16 + f.bytes + 32
			largest = max(largest, size)
			limit := maxDocBytes - 1
			if coll.ID == counts {
				limit = counterDocBytes
			}
			if size > limit || f.longestName > maxFieldNameBytes || f.longestPath > maxFieldNameBytes || f.entries > maxIndexEntries {
				t.Errorf("%s/%s: %d bytes (at most %d), longest field name %d and path %d bytes (at most %d), %d index entries (at most %d)",
					coll.ID, snap.Ref.ID, size, limit, f.longestName, f.longestPath, maxFieldNameBytes, f.entries, maxIndexEntries)
			}
		}
		it.Stop()
	}
	t.Logf("%d documents stored, the largest %d bytes", docs, largest)
}

type storedFields struct{ bytes, entries, longestName, longestPath int }

// walk adds the fields of m, at path prefix, by Google's rules: a string is its UTF-8 bytes
// and 1, a map its fields and 32 (as a document: the conservative reading of "calculated the
// same way as document size"), an array the sum of its values, a number or time 8.
func (f *storedFields) walk(prefix string, m map[string]any) {
	for name, v := range m {
		path := fieldPath(prefix, name)
		f.longestName, f.longestPath = max(f.longestName, len(name)), max(f.longestPath, len(path))
		f.bytes += len(name) + 1 + f.value(path, v)
	}
}

func (f *storedFields) value(path string, v any) int {
	switch v := v.(type) {
	case map[string]any:
		before := f.bytes
		f.walk(path, v)
		n := f.bytes - before
		f.bytes = before
		return n + 32
	case []any:
		n := 0
		for _, x := range v {
			n += f.value(path, x)
			f.entries++ // array-contains
		}
		return n
	}
	f.entries += 2 // ascending and descending
	switch v := v.(type) {
	case nil, bool:
		return 1
	case string:
		return len(v) + 1
	case []byte:
		return len(v)
	}
	return 8
}

// fieldPath is a field's path as Firestore writes it: a name that is not simple in backquotes,
// its backquotes and backslashes escaped.
func fieldPath(prefix, name string) string {
	simple := name != "" && !(name[0] >= '0' && name[0] <= '9') && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
	if !simple {
		name = "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(name) + "`"
	}
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// view is a detail view of item by user at t0+at: it counts for popularity.
func view(id, user, item string, at time.Duration) Entry {
	return Entry{Key: "e:" + id, PublishTime: t0.Add(at), MessageID: "m" + id,
		Counts: []Count{{Popularity, item}}, View: &ViewEvent{UserID: user, ItemID: item, Time: t0.Add(at)}}
}

// TestLongKeysPastAMebibyteInOneBucket is the reproduction: 18 item ids of nearly 64 KiB (an
// app event's limit) in one bucket made one counter document of over 1 MiB, which failed
// every later commit that touched it. Each count is read back, under its whole key.
func TestLongKeysPastAMebibyteInOneBucket(t *testing.T) {
	s, _ := loggedStore(t, Options{MaxBatch: 18, Linger: time.Minute}, nil)
	var es []Entry
	var want []Item
	for i := range 18 {
		item := fmt.Sprintf("%02d", i) + strings.Repeat("x", 64<<10-64)
		es = append(es, view(fmt.Sprint("long", i), "u1", item, time.Second))
		want = append(want, Item{Key: item, Count: 1})
	}
	applyAll(t, s, es...)
	// Once more, a minute on: the same keys, new events, into the same series.
	for i := range es {
		es[i] = view(fmt.Sprint("again", i), "u2", es[i].View.ItemID, time.Minute)
		want[i].Count = 2
	}
	applyAll(t, s, es...)
	if diff := cmp.Diff(want, top(t, s, Popularity, "1h", t0.Add(2*time.Minute))); diff != "" {
		t.Errorf("popularity (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Rejected != 0 {
		t.Errorf("stats %+v: want nothing rejected", st)
	}
}

// TestManyDistinctKeysInOneBucket: 21,000 distinct search terms of 50 bytes in one minute. One
// document of the first design held them all: 21,000 × (52 + 8) bytes is over 1 MiB, and with
// an ascending and a descending entry each, over 40,000 index entries. Each is read back with
// its count.
func TestManyDistinctKeysInOneBucket(t *testing.T) {
	const events, perEvent = 21, maxCountsPerEvent
	s, _ := loggedStore(t, Options{MaxBatch: events, Linger: time.Minute}, nil)
	var es []Entry
	want := map[string]int64{}
	for i := range events {
		e := Entry{Key: fmt.Sprint("e:many", i), PublishTime: t0, MessageID: fmt.Sprint("many", i)}
		for j := range perEvent {
			k := fmt.Sprintf("query %05d of a distinct search, fifty bytes long", i*perEvent+j)
			e.Counts = append(e.Counts, Count{SearchTerms, k})
			want[k] = 1
		}
		es = append(es, e)
	}
	applyAll(t, s, es...)
	if diff := cmp.Diff(want, sumAll(t, s, SearchTerms, "1m")); diff != "" {
		t.Errorf("search terms, every key (-want +got):\n%s", diff)
	}
	got := top(t, s, SearchTerms, "15m", t0.Add(time.Minute))
	if len(got) != MaxN || got[0] != (Item{Key: "query 00000 of a distinct search, fifty bytes long", Count: 1}) {
		t.Errorf("top search terms = %d items from %v, want %d from query 00000 with 1", len(got), got[:min(len(got), 1)], MaxN)
	}
}

// sumAll sums every counter document of ranking r and bucket size by key, as Top does but
// without its cut at MaxN, and reports a digest without its label in the same document (the
// store writes both in one commit).
func sumAll(t *testing.T, s *Store, r Ranking, size string) map[string]int64 {
	t.Helper()
	snaps, err := s.c.Collection(s.o.Collections.Counts).Where("ranking", "==", string(r)).Where("size", "==", size).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("reading %s counts: %v", r, err)
	}
	type counts struct {
		C map[string]int64  `firestore:"c"`
		K map[string]string `firestore:"k"`
	}
	docs := make([]counts, len(snaps))
	for i, snap := range snaps {
		if err := snap.DataTo(&docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	sums := map[string]int64{}
	for _, d := range docs {
		for f, n := range d.C {
			k, ok := keyOf(f, d.K)
			if !ok {
				t.Errorf("field %q has no label in its document", f)
			}
			sums[k] += n
		}
	}
	return sums
}

// TestOneBadEventDoesNotFailItsGroup: a group of nine tweets and one that can never be stored.
// The nine count; the bad one is acknowledged (Apply nil, so Pub/Sub does not deliver it again
// forever), logged and counted nowhere.
func TestOneBadEventDoesNotFailItsGroup(t *testing.T) {
	badTweet := func(mod func(*Entry)) Entry {
		e := tweet("666", 0, "bad", "innocent")
		mod(&e)
		return e
	}
	for _, tc := range []struct {
		name   string
		bad    Entry
		refuse bool // the emulator refuses any commit with the bad event's marker in it
	}{
		{"a key over 64 KiB", badTweet(func(e *Entry) {
			e.Counts = append(e.Counts, Count{Hashtags, strings.Repeat("h", maxKeyBytes+1)})
		}), false},
		{"more keys than an event may count", badTweet(func(e *Entry) {
			for i := range maxCountsPerEvent {
				e.Counts = append(e.Counts, Count{Hashtags, fmt.Sprint("tag", i)})
			}
		}), false},
		{"a marker over half a MiB", badTweet(func(e *Entry) { e.Tweet.Text = strings.Repeat("long text ", 60<<10) }), false},
		{"a key that is not UTF-8", badTweet(func(e *Entry) { e.Counts = append(e.Counts, Count{Hashtags, "\xff"}) }), false},
		{"a view of an item over 64 KiB", view("666", "u1", strings.Repeat("i", maxKeyBytes+1), 0), false},
		{"refused by Firestore", tweet("666", 0, "bad", "innocent"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refuse func(*pb.CommitRequest) error
			if tc.refuse {
				refuse = func(req *pb.CommitRequest) error {
					for _, w := range req.GetWrites() {
						u := w.GetUpdate()
						if strings.HasSuffix(u.GetName(), "/"+DefaultCollections.Tweets+"/666") ||
							bytes.Contains(u.GetFields()[bodyField].GetBytesValue(), []byte(`"k":"t:666"`)) {
							return status.Error(codes.InvalidArgument, "injected: the document is too large")
						}
					}
					return nil
				}
			}
			s, _ := loggedStore(t, Options{MaxBatch: 10, Linger: time.Minute}, refuse)
			es := []Entry{tc.bad}
			for i := range 9 {
				es = append(es, tweet(fmt.Sprint(100+i), 0, fmt.Sprint("good", i), "innocent"))
			}
			applyAll(t, s, es...)
			if got := countOf(t, s, Hashtags, "innocent"); got != 9 {
				t.Errorf("innocent counts %d, want 9 (stats %+v)", got, s.Stats())
			}
			if got := top(t, s, Popularity, "1d", t0.Add(time.Hour)); len(got) != 0 {
				t.Errorf("popularity = %d items, want none", len(got))
			}
			if st := s.Stats(); st.Rejected != 1 {
				t.Errorf("stats %+v: want one event rejected", st)
			}
			if s.o.Layout == LayoutMarkers {
				snap, err := s.markerRef(tc.bad.Key).Get(context.Background())
				if status.Code(err) != codes.NotFound {
					t.Errorf("the bad event's marker: %v, %v; want none", snap.Exists(), err)
				}
				return
			}
			apps, err := s.appsOf(context.Background(), []keyAt{{Key: tc.bad.Key, Second: keySecond(tc.bad.Key, tc.bad.PublishTime)}}, true, false)
			if err != nil || len(apps[tc.bad.Key]) != 0 {
				t.Errorf("the bad event's records: %v, %v; want none", apps, err)
			}
		})
	}
}
