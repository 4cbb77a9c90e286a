package rankings

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// The group commit's tests. Groups are made deterministic without timing: Linger is a minute
// and MaxBatch the number of deliveries, so a group closes when the last one arrives.

// alone returns a Store on s's client with the default batching, for deliveries that s, with
// its minute of Linger, would hold that long.
func alone(t *testing.T, s *Store) *Store {
	a := NewStore(s.c, testLayout(Options{Collections: s.o.Collections, Layout: s.o.Layout}))
	t.Cleanup(a.Close)
	return a
}

// countOf is key's count in ranking r over the day around t0.
func countOf(t *testing.T, s *Store, r Ranking, key string) int64 {
	t.Helper()
	for _, it := range top(t, s, r, "1d", t0.Add(time.Hour)) {
		if it.Key == key {
			return it.Count
		}
	}
	return 0
}

func TestSameEventFiftyTimesAtOnceCountsOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"one group", Options{MaxBatch: 50, Linger: time.Minute}},
		{"fifty racing groups", Options{MaxBatch: 1, InFlight: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, tc.o)
			var es []Entry
			for range 50 {
				es = append(es, tweet("42", 0, "m42", "fifty", "Once"))
			}
			applyAll(t, s, es...)
			applyAll(t, alone(t, s), tweet("42", 0, "m42", "fifty", "Once")) // and once more, later
			want := []Item{{Key: "fifty", Count: 1}, {Key: "once", Count: 1}}
			if diff := cmp.Diff(want, top(t, s, Hashtags, "1d", t0.Add(time.Hour))); diff != "" {
				t.Errorf("hashtags (-want +got):\n%s\nstats %+v", diff, s.Stats())
			}
		})
	}
}

func TestGroupWithADuplicateCountsTheOthersOnce(t *testing.T) {
	s := newStore(t, Options{MaxBatch: 21, Linger: time.Minute})
	applyAll(t, alone(t, s), tweet("1", 0, "m1", "dup")) // s would hold a group of one for a minute
	before := s.Stats()
	es := []Entry{tweet("1", 0, "m1", "dup")} // counted already
	for i := range 20 {
		es = append(es, tweet(fmt.Sprint(100+i), time.Second, fmt.Sprint("n", i), "fresh", fmt.Sprint("own", i)))
	}
	applyAll(t, s, es...)
	st := s.Stats()
	if st.Groups-before.Groups != 1 || st.BlindMisses-before.BlindMisses != 1 {
		t.Errorf("stats %+v after %+v: want one more group whose blind commit met the marker", st, before)
	}
	if got := countOf(t, s, Hashtags, "dup"); got != 1 {
		t.Errorf("dup counts %d, want 1", got)
	}
	if got := countOf(t, s, Hashtags, "fresh"); got != 20 {
		t.Errorf("fresh counts %d, want 20", got)
	}
	for i := range 20 {
		if got := countOf(t, s, Hashtags, fmt.Sprint("own", i)); got != 1 {
			t.Errorf("own%d counts %d, want 1", i, got)
		}
	}
}

// TestGroupTooBigForOneCommitIsSplit: events an hour apart each touch their own buckets, so a
// group of 100 retweets needs more than 500 writes; it is committed in parts, all counted.
func TestGroupTooBigForOneCommitIsSplit(t *testing.T) {
	s := newStore(t, Options{MaxBatch: 100, Linger: time.Minute})
	var es []Entry
	for i := range 100 {
		e := retweet(fmt.Sprint(5000+i), "77", time.Duration(i)*time.Hour, fmt.Sprint("r", i))
		e.Counts = append(e.Counts, Count{Hashtags, "spread"})
		es = append(es, e)
	}
	applyAll(t, s, es...)
	if st := s.Stats(); st.Splits == 0 {
		t.Errorf("stats %+v: want the group split", st)
	}
	now := t0.Add(99 * time.Hour) // the 1d window holds the last 24 hours of them
	if diff := cmp.Diff([]Item{{Key: "spread", Count: 24}}, top(t, s, Hashtags, "1d", now)); diff != "" {
		t.Errorf("hashtags 1d (-want +got):\n%s", diff)
	}
	if got := top(t, s, Retweets, "1d", now); len(got) != 1 || got[0].Count != 24 {
		t.Errorf("retweets 1d = %v, want 77 with 24", got)
	}
}

// faultyStore is a Store whose Firestore client goes through fault, a gRPC interceptor that
// sees every call to the emulator before and instead of it.
func faultyStore(t *testing.T, o Options, fault grpc.UnaryClientInterceptor, streams ...grpc.StreamClientInterceptor) *Store {
	t.Helper()
	conn, err := grpc.NewClient(os.Getenv("FIRESTORE_EMULATOR_HOST"), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}), grpc.WithUnaryInterceptor(fault), grpc.WithChainStreamInterceptor(streams...))
	if err != nil {
		t.Fatal(err)
	}
	c, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t), option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	s := NewStore(c, testLayout(o))
	t.Cleanup(func() { s.Close(); c.Close(); conn.Close() })
	t.Cleanup(func() { checkStored(t, c, s.o.Collections.Counts) }) // before the close
	return s
}

// emulatorOwner is the credential the Firestore emulator takes as its owner.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorOwner) RequireTransportSecurity() bool { return false }

func isCommit(method string) bool { return method == "/google.firestore.v1.Firestore/Commit" }

// countsIn reports whether a commit request writes counts: a group's commit, not the log
// layout's record of its start (layoutmeta.go).
func countsIn(req any) bool {
	c, ok := req.(*pb.CommitRequest)
	if !ok {
		return false
	}
	for _, w := range c.GetWrites() {
		if strings.Contains(w.GetUpdate().GetName(), "/"+DefaultCollections.Counts+"/") {
			return true
		}
	}
	return false
}

func TestGroupWhoseCommitFailsIsRetriedAndCountedOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		landed bool // the failed commit was applied (only its answer was lost)
	}{{"commit lost", false}, {"answer lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var commits atomic.Int32
			s := faultyStore(t, Options{MaxBatch: 10, Linger: time.Minute}, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if isCommit(method) && commits.Add(1) == 1 {
					if tc.landed {
						if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
							return err
						}
					}
					return status.Error(codes.Internal, "injected: the connection broke")
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			})
			var es []Entry
			for i := range 10 {
				es = append(es, tweet(fmt.Sprint(700+i), 0, fmt.Sprint("f", i), "retried"))
			}
			applyAll(t, s, es...)
			if got := countOf(t, s, Hashtags, "retried"); got != 10 {
				t.Errorf("retried counts %d, want 10 (stats %+v)", got, s.Stats())
			}
			if n := commits.Load(); n < 2 {
				t.Errorf("%d commits, want the failed one retried", n)
			}
		})
	}
}

// TestCancelledDeliveryIsNeverHalfCounted: the delivery's context ends while its group's
// commit is on the wire. Its event is then counted in all its buckets or in none, and the
// redelivery that follows leaves it counted exactly once.
func TestCancelledDeliveryIsNeverHalfCounted(t *testing.T) {
	for _, land := range []bool{false, true} {
		t.Run(fmt.Sprint("commit lands: ", land), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var first atomic.Bool
			firstDone := make(chan struct{})
			s := faultyStore(t, Options{MaxBatch: 1}, func(cctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if !isCommit(method) || !countsIn(req) || !first.CompareAndSwap(false, true) {
					return invoker(cctx, method, req, reply, cc, opts...)
				}
				defer close(firstDone)
				cancel() // the delivery gives up while its commit is on the wire
				if !land {
					return status.Error(codes.PermissionDenied, "injected: refused")
				}
				return invoker(cctx, method, req, reply, cc, opts...)
			})
			e := tweet("900", 0, "c1", "cancel", "atomic")
			e.Counts = append(e.Counts, Count{Retweets, "899"})
			// Apply answers the cancellation or, if the group ended first, the group's outcome.
			if err := s.Apply(ctx, e); !errors.Is(err, context.Canceled) && (land || status.Code(err) != codes.PermissionDenied) {
				t.Errorf("Apply with its context cancelled = %v, want context.Canceled", err)
			}
			select {
			case <-firstDone:
			case <-time.After(time.Minute):
				t.Fatal("the group's commit did not end within a minute")
			}
			want := int64(0)
			if land {
				want = 1
			}
			counts := func() []int64 {
				return []int64{countOf(t, s, Hashtags, "cancel"), countOf(t, s, Hashtags, "atomic"), countOf(t, s, Retweets, "899")}
			}
			if diff := cmp.Diff([]int64{want, want, want}, counts()); diff != "" {
				t.Errorf("counts after the cancelled delivery (-want +got):\n%s", diff)
			}
			if err := s.Apply(context.Background(), e); err != nil { // Pub/Sub delivers it again
				t.Errorf("redelivery: Apply = %v", err)
			}
			if diff := cmp.Diff([]int64{1, 1, 1}, counts()); diff != "" {
				t.Errorf("counts after the redelivery (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIdleClosesAGroupEarly: with a minute of Linger and 100 places, three deliveries are
// committed once no other has joined for Idle, not after the minute (the deliveries would
// give up at 30 s).
func TestIdleClosesAGroupEarly(t *testing.T) {
	s := newStore(t, Options{MaxBatch: 100, Linger: time.Minute, Idle: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- s.Apply(ctx, tweet(fmt.Sprint(700+i), 0, fmt.Sprint("i", i), "idle")) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Apply = %v, want the group committed after Idle, well before its minute of Linger", err)
		}
	}
	if got := countOf(t, s, Hashtags, "idle"); got != 3 {
		t.Errorf("idle counts %d, want 3", got)
	}
}
