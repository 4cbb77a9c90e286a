package rankings

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errTooBig says a group needs more writes, or more bytes, than one commit takes.
var errTooBig = errors.New("more writes or bytes than one commit takes")

// commit writes a group and answers each of its deliveries. The common case is one blind
// commit: every marker created with a must-not-exist precondition, in the same atomic commit
// as the group's merged counter increments, with no read. If a marker exists (a redelivery, or
// two deliveries of one event racing) the whole commit fails and changes nothing; the group
// is then read and committed with what each marker says (tryCommit with read), starting again
// while a concurrent commit changes one of its markers. Either way each event counts once and
// each delivery is answered only after its event is durable (or known to be counted already).
//
// One event never fails the others: an event that can never be stored is answered before the
// group commits (check), and a group whose commit is refused is committed in halves, down to
// the event it was refused for (commitParts).
func (s *Store) commit(batch []*pending, shard int) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	now := s.o.Now()
	kept := make([]*pending, 0, len(batch))
	for _, p := range batch {
		if err := s.check(p.e, now); err != nil {
			s.reject(p, err)
			continue
		}
		kept = append(kept, p)
	}
	s.commitParts(ctx, kept, shard)
}

// commitParts commits batch, in halves while it is refused for its size or content.
func (s *Store) commitParts(ctx context.Context, batch []*pending, shard int) {
	if len(batch) == 0 {
		return
	}
	err := s.commitGroup(ctx, batch, shard)
	switch {
	case err == nil:
	case len(batch) > 1 && refused(err) && ctx.Err() == nil:
		// Events far apart in time touch many buckets, or one event is refused: the halves
		// go on their own, so the others are stored whatever that one holds.
		s.stats.split.Add(1)
		h := len(batch) / 2
		s.commitParts(ctx, batch[:h], shard)
		s.commitParts(ctx, batch[h:], shard)
		return
	case len(batch) == 1 && invalid(err):
		// Refused alone, for what it holds: it would be refused on every delivery.
		s.reject(batch[0], err)
		return
	default:
		err = fmt.Errorf("committing %d ranking events: %w", len(batch), err)
	}
	for _, p := range batch {
		p.done <- err
	}
}

// reject answers p's delivery nil (acknowledged: Pub/Sub would only deliver it again) and logs
// why its event is not stored.
func (s *Store) reject(p *pending, err error) {
	s.stats.rejected.Add(1)
	s.o.Log.Error("a ranking event can never be stored within Firestore's limits; acknowledged without it",
		"key", truncate(p.e.Key, 200), "message_id", p.e.MessageID, "error", err)
	p.done <- nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
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
		if s.o.Layout == LayoutLog {
			err = s.tryCommitLog(ctx, batch, shard, read)
		} else {
			err = s.tryCommit(ctx, batch, shard, read)
		}
		if err == nil || errors.Is(err, errTooBig) {
			return err
		}
		if s.o.Layout == LayoutLog {
			// The commit may have landed before the error: reading first finds its records, so
			// a retry adds nothing twice.
			read = true
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
	if tooLarge(err) {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.DeadlineExceeded, codes.Unknown:
		return true
	}
	return false
}

// refused errors may be one event's doing (a limit it passes, a marker racing long after the
// retries), so a smaller group may commit; an unavailable or unauthorised Firestore fails every
// group alike, and halving would only multiply the commits.
func refused(err error) bool {
	if errors.Is(err, errTooBig) {
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	return false
}

// tooLarge says a request was refused for its size: a ResourceExhausted like a quota's, which
// only its message tells apart ("gRPC message exceeds maximum size", "larger than max").
func tooLarge(err error) bool {
	msg := strings.ToLower(status.Convert(err).Message())
	return status.Code(err) == codes.ResourceExhausted && (strings.Contains(msg, "size") || strings.Contains(msg, "larger than"))
}

// invalid errors refuse a commit for what it holds: the same event fails the same way on every
// delivery.
func invalid(err error) bool {
	if errors.Is(err, errTooBig) || tooLarge(err) {
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		return true
	}
	return false
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
			m.CountedAt = d.CountedAt
			m.exists, m.updateTime = true, snap.UpdateTime
		}
	}

	// The group's count deltas, merged per series of counter documents and key.
	counts := map[seriesKey]map[string]int64{}
	add := func(cs []Count, at time.Time, d int64) { addCounts(counts, cs, at, shard, d) }

	// The group's card count deltas (cards.go), with the markers that decide them.
	cards := cardDeltas{}

	// The writes are added to the batch once the commit is known to fit: a group that does not
	// fit is halved, and building its batch would be work thrown away.
	var adds []func(*firestore.WriteBatch)
	writes, bytes := 0, 0
	for _, p := range batch {
		e, m := p.e, markers[p.e.Key]
		switch {
		case e.Delete:
			if m.Deleted {
				continue
			}
			if m.counted() {
				add(m.Counted, m.countedAt(), -1)
				cards.add(m.tweet, -1)
			}
			m.Deleted, m.Counted, m.tweet, m.dirty = true, nil, nil, true
			if m.PublishTime.IsZero() {
				m.PublishTime, m.MessageID = e.PublishTime, e.MessageID
			}
		case m.Deleted:
			// A tweet whose delete came first: it never counts.
		case !m.counted() || before(e.PublishTime, e.MessageID, m.PublishTime, m.MessageID):
			if m.counted() {
				add(m.Counted, m.countedAt(), -1)
				cards.add(m.tweet, -1)
			}
			add(e.Counts, e.countAt(), +1)
			cards.add(e.Tweet, +1)
			m.Counted, m.PublishTime, m.MessageID, m.tweet, m.dirty = e.Counts, e.PublishTime, e.MessageID, e.Tweet, true
			m.CountedAt = e.countAt()
		}
		if v := e.View; v != nil {
			add, n := s.viewWrite(v, now)
			adds, writes, bytes = append(adds, add), writes+1, bytes+n
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
					bytes += len(k) + 16
				}
			}
			adds = append(adds, func(wb *firestore.WriteBatch) { wb.Update(m.ref, ups, firestore.LastUpdateTime(m.updateTime)) })
		} else {
			adds = append(adds, func(wb *firestore.WriteBatch) { wb.Create(m.ref, data) })
		}
		writes, bytes = writes+1, bytes+len(m.ref.Path)+wireBytes(data)
	}
	cardAdds, cardBytes := s.cardWrites(cards, now)
	adds = append(adds, cardAdds...)
	writes, bytes = writes+len(cardAdds), bytes+cardBytes
	// Before placing the counts (which reserves room in their documents), what they take at
	// least: a write per series and each increment's field path.
	plan, writes, bytes := s.planCounts(counts, writes, bytes)
	if writes == 0 {
		return nil // every event was a redelivery: nothing to write
	}
	if writes > maxWrites || bytes > commitBytesBudget {
		return fmt.Errorf("%w: %d writes (at most %d), about %d bytes (at most %d)", errTooBig, writes, maxWrites, bytes, commitBytesBudget)
	}
	return s.commitWrites(ctx, adds, plan, read)
}

// commitWrites commits a group's writes and its counter documents' plan.
func (s *Store) commitWrites(ctx context.Context, adds []func(*firestore.WriteBatch), plan []*counterWrite, read bool) error {
	wb := s.c.Batch()
	for _, add := range adds {
		add(wb)
	}
	for _, w := range plan {
		w.set(s.c, s.o.Collections.Counts, wb)
	}
	s.stats.commits.Add(1)
	if !read {
		s.stats.blindCommits.Add(1)
	}
	if _, err := wb.Commit(ctx); err != nil {
		return err
	}
	s.counters.confirm(plan)
	return nil
}

// viewWrite is the write of a detail view: max is commutative and idempotent, so views need no
// marker and apply in any order.
func (s *Store) viewWrite(v *ViewEvent, now time.Time) (func(*firestore.WriteBatch), int) {
	ref := s.c.Collection(s.o.Collections.Views).Doc(hashKey(v.UserID + "\x00" + v.ItemID))
	data := map[string]any{
		"user_id": v.UserID, "item_id": v.ItemID,
		"viewed_us":  firestore.FieldTransformMaximum(v.Time.UnixMicro()),
		"expires_at": now.Add(s.o.Retention),
	}
	return func(wb *firestore.WriteBatch) { wb.Set(ref, data, firestore.MergeAll) }, len(ref.Path) + wireBytes(data)
}
