package rankings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Collections name the store's Firestore collections.
type Collections struct {
	// Counts holds one document per (ranking, bucket size, bucket, shard): a map of counts.
	Counts string
	// Tweets holds one document per tweet id: whether and where it counted, whether it was
	// deleted, and its content for the latest tweets.
	Tweets string
	// Events holds one document per app event id: whether and where it counted.
	Events string
	// Views holds one document per (user, item): the latest view's time.
	Views string
}

// DefaultCollections are the collections Terraform declares (rankings_*).
var DefaultCollections = Collections{Counts: "rankings_counts", Tweets: "rankings_tweets", Events: "rankings_events", Views: "rankings_views"}

// Options tune a Store; zero values take the defaults.
type Options struct {
	Collections Collections
	// Shards is how many documents each bucket's counts are spread over (default 16). Each
	// commit writes to one shard chosen at random among those no other commit of the instance
	// holds, so one bucket document sees about commits-per-second/Shards writes per second,
	// however hot one key is.
	Shards int
	// MaxBatch is the most events one commit carries (default 100; each is at most three
	// writes, under Firestore's 500 per commit).
	MaxBatch int
	// Linger is how long the first event of a batch waits for others (default 5ms).
	Linger time.Duration
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
	stats     struct{ groups, commits, blindCommits, blindMisses, reads, events, split atomic.Int64 }
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
	// Splits is how many groups were halved to fit Firestore's writes per commit.
	Splits int64
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	st := &s.stats
	return Stats{Groups: st.groups.Load(), Events: st.events.Load(), Commits: st.commits.Load(), BlindCommits: st.blindCommits.Load(),
		BlindMisses: st.blindMisses.Load(), Reads: st.reads.Load(), Splits: st.split.Load()}
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
	if o.Shards <= 0 {
		o.Shards = 16
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
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
	s := &Store{c: client, o: o, reqs: make(chan *pending), stop: make(chan struct{}), done: make(chan struct{})}
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
// messages of one event, changes nothing the second time.
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
	// Each commit takes a random counter shard that no other commit of the instance holds, so
	// its concurrent commits never write one counter document (Firestore would serialise
	// them), and over time every shard takes its share.
	sem := make(chan struct{}, s.o.InFlight)
	var mu sync.Mutex
	busy := map[int]bool{}
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		shard := rand.IntN(s.o.Shards)
		for i := 0; busy[shard] && i < s.o.Shards; i++ {
			shard = (shard + 1) % s.o.Shards
		}
		busy[shard] = true
		return shard
	}
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
	gather:
		for len(batch) < s.o.MaxBatch {
			select {
			case p := <-s.reqs:
				batch = append(batch, p)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		sem <- struct{}{}
		shard := take()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(busy, shard)
				mu.Unlock()
				<-sem
			}()
			s.stats.groups.Add(1)
			s.stats.events.Add(int64(len(batch)))
			s.commit(batch, shard)
		})
	}
}

// maxWrites is Firestore's limit of writes per commit.
const maxWrites = 500

// errTooManyWrites says a group needs more writes than one commit takes.
var errTooManyWrites = errors.New("more writes than one commit takes")

// commit writes a group and answers each of its deliveries. The common case is one blind
// commit: every marker created with a must-not-exist precondition, in the same atomic commit
// as the group's merged counter increments, with no read. If a marker exists (a redelivery, or
// two deliveries of one event racing) the whole commit fails and changes nothing; the group
// is then read and committed with what each marker says (tryCommit with read), starting again
// while a concurrent commit changes one of its markers. Either way each event counts once and
// each delivery is answered only after its event is durable (or known to be counted already).
func (s *Store) commit(batch []*pending, shard int) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	err := s.commitGroup(ctx, batch, shard)
	if errors.Is(err, errTooManyWrites) && len(batch) > 1 {
		// Events far apart in time touch many buckets: commit the halves on their own.
		s.stats.split.Add(1)
		h := len(batch) / 2
		s.commit(batch[:h], shard)
		s.commit(batch[h:], shard)
		return
	}
	if err != nil {
		err = fmt.Errorf("committing %d ranking events: %w", len(batch), err)
	}
	for _, p := range batch {
		p.done <- err
	}
}

func (s *Store) commitGroup(ctx context.Context, batch []*pending, shard int) error {
	read := s.readFirst.Load() > 0
	if read {
		s.readFirst.Add(-1)
	}
	var err error
	for attempt := 0; attempt < 30; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.IntN(5+attempt*5)) * time.Millisecond)
		}
		if err = s.tryCommit(ctx, batch, shard, read); err == nil || errors.Is(err, errTooManyWrites) {
			return err
		}
		switch {
		case conflict(err):
			if !read {
				s.stats.blindMisses.Add(1)
				s.readFirst.Store(16)
			}
			read = true
			s.o.Log.Debug("rankings commit met a changed marker; reading and retrying", "attempt", attempt, "error", err)
		case transient(err) && ctx.Err() == nil:
			// The commit may have landed before the error: the next attempt's markers say so.
			s.o.Log.Warn("rankings commit failed; retrying", "attempt", attempt, "error", err)
		default:
			return err
		}
	}
	return err
}

func conflict(err error) bool {
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return true
	}
	return false
}

// transient errors may succeed when tried again.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.DeadlineExceeded, codes.Unknown:
		return true
	}
	return false
}

// marker is the stored state of one event key.
type marker struct {
	ref        *firestore.DocumentRef
	exists     bool
	updateTime time.Time
	dirty      bool

	Counted     []Count
	PublishTime time.Time
	MessageID   string
	Deleted     bool
	tweet       *Tweet
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

type countDelta struct {
	ranking Ranking
	size    time.Duration
	bucket  time.Time
	deltas  map[string]int64
	labels  map[string]string
}

// tryCommit makes one commit of batch. With read it first reads every marker and writes
// with preconditions on what it read; without, it takes every marker to be absent and creates
// them (must not exist), so any marker that does exist fails the whole commit.
func (s *Store) tryCommit(ctx context.Context, batch []*pending, shard int, read bool) error {
	now := s.o.Now()
	markers := map[string]*marker{}
	var refs []*firestore.DocumentRef
	var order []*marker
	for _, p := range batch {
		if _, ok := markers[p.e.Key]; !ok {
			m := &marker{ref: s.markerRef(p.e.Key)}
			markers[p.e.Key] = m
			refs, order = append(refs, m.ref), append(order, m)
		}
	}
	if read {
		s.stats.reads.Add(1)
		snaps, err := s.c.GetAll(ctx, refs)
		if err != nil {
			return fmt.Errorf("reading event markers: %w", err)
		}
		for i, snap := range snaps { // GetAll answers in the order of refs
			m := order[i]
			if !snap.Exists() {
				continue
			}
			d, err := decodeMarker(snap)
			if err != nil {
				return err
			}
			m.Counted, m.PublishTime, m.MessageID, m.Deleted, m.tweet = d.Counted, d.PublishTime, d.MessageID, d.Deleted, d.Tweet
			m.exists, m.updateTime = true, snap.UpdateTime
		}
	}

	counts := map[string]*countDelta{}
	add := func(cs []Count, at time.Time, d int64) {
		for _, c := range cs {
			for _, size := range BucketSizes {
				b := at.UTC().Truncate(size)
				id := fmt.Sprintf("%s.%s.%d.%d", c.Ranking, sizeName(size), b.Unix(), shard)
				cd := counts[id]
				if cd == nil {
					cd = &countDelta{ranking: c.Ranking, size: size, bucket: b, deltas: map[string]int64{}, labels: map[string]string{}}
					counts[id] = cd
				}
				f, labelled := countField(c.Key)
				cd.deltas[f] += d
				if labelled {
					cd.labels[f] = c.Key
				}
			}
		}
	}

	wb := s.c.Batch()
	writes := 0
	for _, p := range batch {
		e, m := p.e, markers[p.e.Key]
		switch {
		case e.Delete:
			if m.Deleted {
				continue
			}
			if m.counted() {
				add(m.Counted, m.PublishTime, -1)
			}
			m.Deleted, m.Counted, m.tweet, m.dirty = true, nil, nil, true
			if m.PublishTime.IsZero() {
				m.PublishTime, m.MessageID = e.PublishTime, e.MessageID
			}
		case m.Deleted:
			// A tweet whose delete came first: it never counts.
		case !m.counted() || before(e.PublishTime, e.MessageID, m.PublishTime, m.MessageID):
			if m.counted() {
				add(m.Counted, m.PublishTime, -1)
			}
			add(e.Counts, e.PublishTime, +1)
			m.Counted, m.PublishTime, m.MessageID, m.tweet, m.dirty = e.Counts, e.PublishTime, e.MessageID, e.Tweet, true
		}
		if v := e.View; v != nil {
			// Max is commutative and idempotent: views need no marker, in any order.
			ref := s.c.Collection(s.o.Collections.Views).Doc(hashKey(v.UserID + "\x00" + v.ItemID))
			wb.Set(ref, map[string]any{
				"user_id": v.UserID, "item_id": v.ItemID,
				"viewed_us":  firestore.FieldTransformMaximum(v.Time.UnixMicro()),
				"expires_at": now.Add(s.o.Retention),
			}, firestore.MergeAll)
			writes++
		}
	}
	for _, m := range markers {
		if !m.dirty {
			continue
		}
		data, err := s.markerFields(m, now)
		if err != nil {
			return err
		}
		if m.exists {
			// The update replaces the whole document, as a create would: every field the
			// marker does not set now (an emptied tweet's, an older shape's) is deleted.
			ups := make([]firestore.Update, 0, len(markerFieldNames)) // data's fields are among them
			for k, v := range data {
				ups = append(ups, firestore.Update{Path: k, Value: v})
			}
			for _, k := range markerFieldNames {
				if _, ok := data[k]; !ok {
					ups = append(ups, firestore.Update{Path: k, Value: firestore.Delete})
				}
			}
			wb.Update(m.ref, ups, firestore.LastUpdateTime(m.updateTime))
		} else {
			wb.Create(m.ref, data)
		}
		writes++
	}
	for id, cd := range counts {
		c, k := map[string]any{}, map[string]any{}
		for f, d := range cd.deltas {
			if d != 0 {
				c[f] = firestore.Increment(d)
				if l, ok := cd.labels[f]; ok {
					k[f] = l
				}
			}
		}
		if len(c) == 0 {
			continue
		}
		doc := map[string]any{
			"ranking": string(cd.ranking), "size": sizeName(cd.size), "bucket": cd.bucket, "c": c,
			// Counts outlive the longest window by a day, then Firestore's TTL deletes them.
			"expires_at": cd.bucket.Add(48 * time.Hour),
		}
		if len(k) > 0 {
			doc["k"] = k
		}
		wb.Set(s.c.Collection(s.o.Collections.Counts).Doc(id), doc, firestore.MergeAll)
		writes++
	}
	if writes == 0 {
		return nil // every event was a redelivery: nothing to write
	}
	if writes > maxWrites {
		return errTooManyWrites
	}
	s.stats.commits.Add(1)
	if !read {
		s.stats.blindCommits.Add(1)
	}
	if _, err := wb.Commit(ctx); err != nil {
		return err
	}
	return nil
}

// maxKeyField is the longest key stored as its own field name: the emulator rewrites and
// indexes a counter document whole on every increment, so a second map of labels beside the
// counts doubled what each commit rewrote; longer keys (rare: long search queries) keep a
// hashed name and a label.
const maxKeyField = 100

// countField is the field of the c map that counts key: "=" and the key itself when it is
// short valid UTF-8 (the "=" keeps it apart from hashed names, which are hex, and from
// Firestore's reserved __names__), else its hash, which then needs a label (labelled).
func countField(key string) (field string, labelled bool) {
	if len(key) <= maxKeyField && utf8.ValidString(key) {
		return "=" + key, false
	}
	return hashKey(key), true
}

func sizeName(d time.Duration) string {
	switch d {
	case time.Minute:
		return "1m"
	case 5 * time.Minute:
		return "5m"
	case time.Hour:
		return "1h"
	}
	return d.String()
}
