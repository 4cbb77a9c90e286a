package rankings

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
)

// Collections name the store's Firestore collections.
type Collections struct {
	// Counts holds a bucket's counts (counters.go): documents of one writer each, of bounded
	// size, holding a map of counts and one of labels.
	Counts string
	// Tweets holds one document per tweet id: whether and where it counted, whether it was
	// deleted, and its content for the latest tweets.
	Tweets string
	// Events holds one document per app event id: whether and where it counted.
	Events string
	// Views holds one document per (user, item): the latest view's time.
	Views string
	// TweetCounts holds one document per retweeted, replied-to or quoted tweet: its card
	// counts (cards.go).
	TweetCounts string
	// Log holds the log layout's records (log.go): a group's events, a few documents a group.
	Log string
	// Dups holds the log layout's ledgers: one document per key that had a duplicate.
	Dups string
	// Keys holds the log layout's key pages (keypages.go): where each key's applications are.
	Keys string
	// Meta holds the document that says when the log layout started (layoutmeta.go).
	Meta string
}

// DefaultDatabase is the Firestore database of the rankings (RANKINGS_DATABASE), as
// Terraform's rankings_database default names it: their own, apart from (default), so that
// ServeRankings' read grant can be conditioned on it and reach nothing else.
const DefaultDatabase = "rankings"

// DefaultCollections are the collections Terraform declares (rankings_*).
var DefaultCollections = Collections{Counts: "rankings_counts", Tweets: "rankings_tweets", Events: "rankings_events", Views: "rankings_views",
	TweetCounts: "rankings_tweet_counts",
	Log:         "rankings_log", Dups: "rankings_dups", Keys: "rankings_keys", Meta: "rankings_meta"}

// Options tune a Store; zero values take the defaults.
type Options struct {
	Collections Collections
	// Layout is how each event is kept counting once (default LayoutLog): the log layout's
	// records per group (log.go), or a marker document per event.
	Layout Layout
	// KeyPages is how many pages a second's keys spread over in the log layout (default 4;
	// keypages.go). Every Store of a database must use the same.
	KeyPages int
	// ReadOnly is a Store that only reads (ServeRankings, whose grant is read-only): it never
	// records the log layout's start (layoutmeta.go), and reads markers until a writer has.
	ReadOnly bool
	// Shards bounds how many documents of a bucket one Store writes (default 16). Each commit
	// takes the lowest-numbered shard that no other commit of the Store holds and none wrote in
	// the last second (shards.go), so no document is written by two commits at once and each
	// takes about one write a second while the Store commits at most Shards times a second.
	Shards int
	// MaxBatch is the most events one commit carries (default 100; 500 in the log layout,
	// whose writes are per group: half of UpdateRankings' 1,000 deliveries in flight, so one
	// group gathers while the other commits). A group that would pass Firestore's limits per
	// commit is committed in parts.
	MaxBatch int
	// Linger is how long the first event of a batch waits for others (default 5ms; 1s in the
	// log layout, where a longer wait makes fewer, larger groups).
	Linger time.Duration
	// Idle closes a group early once no delivery has joined it for this long (0: never). The
	// log layout's default, with its default Linger, is 100ms: a quiet instance then commits
	// what it has instead of holding every delivery for the whole second, while a busy one,
	// whose deliveries arrive much closer together, still fills its groups.
	Idle time.Duration
	// InFlight bounds concurrent commits per instance (default 4).
	InFlight int
	// Retention is how long markers (and so idempotence) and views are kept: Firestore's TTL
	// deletes them after expires_at (default 8 days: Pub/Sub keeps messages 7 days at most).
	Retention time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// Store keeps the rankings, recent views and latest tweets in Firestore.
type Store struct {
	c    *firestore.Client
	o    Options
	reqs chan *pending
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// readFirst counts down the groups that read their markers before committing: set after
	// a blind commit met a marker, since duplicates come in bursts (a redelivered backlog).
	readFirst atomic.Int32
	counters  *counterDocs
	stats     struct {
		groups, commits, blindCommits, blindMisses, reads, events, split, rejected, reconciles atomic.Int64
	}
	// meta is what the log layout knows of when it started (layoutmeta.go).
	meta struct {
		mu    sync.Mutex
		known bool
		until time.Time
	}
}

// Stats counts what a Store did since it started.
type Stats struct {
	// Groups is how many groups of deliveries were committed together; Events how many
	// deliveries they held.
	Groups, Events int64
	// Commits is Firestore commits attempted, BlindCommits those made without reading the
	// markers first, BlindMisses the blind commits that met an existing marker (the group was
	// then read and committed again), Reads the marker reads (one BatchGetDocuments each).
	Commits, BlindCommits, BlindMisses, Reads int64
	// Splits is how many groups were halved: to fit Firestore's limits per commit, or to find
	// the event a commit failed for.
	Splits int64
	// Rejected is how many events were acknowledged without being stored, since they never
	// can be (each is logged).
	Rejected int64
	// Reconciles is how many times the log layout read a key's applications and ledger to take
	// out what must not count.
	Reconciles int64
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	st := &s.stats
	return Stats{Groups: st.groups.Load(), Events: st.events.Load(), Commits: st.commits.Load(), BlindCommits: st.blindCommits.Load(),
		BlindMisses: st.blindMisses.Load(), Reads: st.reads.Load(), Splits: st.split.Load(), Rejected: st.rejected.Load(),
		Reconciles: st.reconciles.Load()}
}

type pending struct {
	ctx  context.Context
	e    Entry
	done chan error
}

// NewStore returns a Store on client and starts its batching loop; Close stops it.
func NewStore(client *firestore.Client, o Options) *Store {
	if o.Collections == (Collections{}) {
		o.Collections = DefaultCollections
	}
	if o.Layout == "" {
		o.Layout = LayoutLog
	}
	if o.Shards <= 0 {
		o.Shards = 16
	}
	if o.KeyPages <= 0 {
		o.KeyPages = 4
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
		if o.Layout == LayoutLog {
			o.MaxBatch = 500
		}
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
		if o.Layout == LayoutLog {
			o.Linger = time.Second
			if o.Idle == 0 {
				o.Idle = 100 * time.Millisecond
			}
		}
	}
	if o.InFlight <= 0 {
		o.InFlight = 4
	}
	if o.Retention <= 0 {
		o.Retention = 8 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Store{c: client, o: o, reqs: make(chan *pending), stop: make(chan struct{}), done: make(chan struct{}),
		counters: newCounterDocs(o.Collections.Counts, newWriterID())}
	go s.loop()
	return s
}

// Close stops the batching loop after the commits in flight.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Apply records one event and returns once it is durable (nil), or why it is not (the caller
// answers with an error so that Pub/Sub delivers it again). Applying an event twice, or two
// messages of one event, changes nothing the second time. An event that can never be stored
// within Firestore's limits (check, or a commit of it alone refused as invalid) is logged and
// answered nil too: delivering it again could only fail again.
func (s *Store) Apply(ctx context.Context, e Entry) error {
	p := &pending{ctx: ctx, e: e, done: make(chan error, 1)}
	select {
	case s.reqs <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errors.New("the rankings store is closed")
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The commit may still land; a redelivery then finds it done.
		return ctx.Err()
	}
}

// loop gathers concurrent Apply calls into batches: one commit for many events is what lets
// an instance keep up with thousands of events a second.
func (s *Store) loop() {
	defer close(s.done)
	// Each commit takes a counter shard by the rule of shards.go: concurrent commits never write
	// one counter document, and one document takes about one write a second.
	sem := make(chan struct{}, s.o.InFlight)
	shards := newShardPicker(s.o.Shards)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var batch []*pending
		select {
		case p := <-s.reqs:
			batch = append(batch, p)
		case <-s.stop:
			return
		}
		timer := time.NewTimer(s.o.Linger)
		var idle <-chan time.Time
		var idleTimer *time.Timer
		if s.o.Idle > 0 {
			idleTimer = time.NewTimer(s.o.Idle)
			idle = idleTimer.C
		}
	gather:
		for len(batch) < s.o.MaxBatch {
			select {
			case p := <-s.reqs:
				batch = append(batch, p)
				if idleTimer != nil {
					idleTimer.Reset(s.o.Idle)
				}
			case <-timer.C:
				break gather
			case <-idle:
				break gather
			}
		}
		timer.Stop()
		if idleTimer != nil {
			idleTimer.Stop()
		}
		sem <- struct{}{}
		shard := shards.take(s.o.Now())
		wg.Go(func() {
			defer func() {
				shards.release(shard)
				<-sem
			}()
			s.stats.groups.Add(1)
			s.stats.events.Add(int64(len(batch)))
			s.commit(batch, shard)
		})
	}
}

// marker is the stored state of one event key.
type marker struct {
	ref        *firestore.DocumentRef
	exists     bool
	updateTime time.Time
	dirty      bool

	Counted     []Count
	PublishTime time.Time
	// CountedAt is the time Counted was added at (Entry.CountAt); zero in markers written
	// before it was kept, which counted at PublishTime.
	CountedAt time.Time
	MessageID string
	Deleted   bool
	tweet     *Tweet
}

// countedAt is when the marker's counts were added: the time to take them away at.
func (m *marker) countedAt() time.Time {
	if !m.CountedAt.IsZero() {
		return m.CountedAt
	}
	return m.PublishTime
}

func (m *marker) counted() bool { return !m.PublishTime.IsZero() && !m.Deleted }

// before reports whether (a, am) comes before (b, bm): the dedup views keep the earliest
// published row, then the lowest message id.
func before(a time.Time, am string, b time.Time, bm string) bool {
	a, b = a.Truncate(time.Microsecond), b.Truncate(time.Microsecond)
	if !a.Equal(b) {
		return a.Before(b)
	}
	return am < bm
}

func (s *Store) markerRef(key string) *firestore.DocumentRef {
	if len(key) > 2 && key[:2] == "t:" {
		return s.c.Collection(s.o.Collections.Tweets).Doc(docID(key[2:]))
	}
	return s.c.Collection(s.o.Collections.Events).Doc(hashKey(key))
}

// docID is a tweet id as a document id: ids are decimal in practice; anything else is hashed
// so that no id can be an invalid document name.
func docID(id string) string {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && strconv.FormatUint(n, 10) == id {
		return id
	}
	return "h" + hashKey(id)
}
