package rankings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tryCommitLog makes one commit of batch in the log layout (log.go), then reconciles each key
// another record (or a marker) holds. With read it first reads every key's applications and
// writes only those that would count, so a redelivered backlog writes nothing but the
// reconciling of keys left unreconciled.
func (s *Store) tryCommitLog(ctx context.Context, batch []*pending, shard int, read bool) error {
	now := s.o.Now()
	events, _ := groupApps(batch)
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = e.Key
	}
	markers, err := s.markersWindow(ctx)
	if err != nil {
		return err
	}
	existing := map[string][]app{}
	if read || markers {
		if existing, err = s.appsOf(ctx, keys, read, markers); err != nil {
			return err
		}
	}
	reconcile := map[string]bool{}
	var write []logEvent
	for _, e := range events {
		ex := existing[e.Key]
		if len(ex) > 0 {
			reconcile[e.Key] = true
		}
		if wouldCount(e, ex) {
			write = append(write, e)
		}
	}

	counts := map[seriesKey]map[string]int64{}
	cards := cardDeltas{}
	for _, e := range write {
		if !e.Delete {
			addCounts(counts, e.Counts, e.countedAt(), shard, +1)
			cards.add(e.Tweet, +1)
		}
	}
	var adds []func(*firestore.WriteBatch)
	writes, bytes := 0, 0
	for _, p := range batch {
		if v := p.e.View; v != nil {
			add, n := s.viewWrite(v, now)
			adds, writes, bytes = append(adds, add), writes+1, bytes+n
		}
	}
	records := s.recordsOf(write)
	own := map[string]bool{}
	for _, r := range records {
		data, err := r.fields(now, s.o.Retention)
		if err != nil {
			return err
		}
		own[r.ref.ID] = true
		adds = append(adds, func(wb *firestore.WriteBatch) { wb.Create(r.ref, data) })
		writes, bytes = writes+1, bytes+len(r.ref.Path)+wireBytes(data)
	}
	cardAdds, cardBytes := s.cardWrites(cards, now)
	adds = append(adds, cardAdds...)
	writes, bytes = writes+len(cardAdds), bytes+cardBytes
	plan, writes, bytes := s.planCounts(counts, writes, bytes)
	if writes > maxWrites || bytes > commitBytesBudget {
		return fmt.Errorf("%w: %d writes (at most %d), about %d bytes (at most %d)", errTooBig, writes, maxWrites, bytes, commitBytesBudget)
	}
	if writes > 0 {
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
	}

	// The look-up: which written keys another record holds.
	var written []string
	for _, e := range write {
		written = append(written, e.Key)
	}
	found, err := s.lookUp(ctx, written, own)
	if err != nil {
		return fmt.Errorf("looking up %d ranking keys after their commit: %w", len(written), err)
	}
	if len(found) > 0 && !read {
		s.stats.blindMisses.Add(1)
		s.readFirst.Store(16)
	}
	for k := range found {
		reconcile[k] = true
	}
	return s.reconcileAll(ctx, slices.Sorted(mapsKeys(reconcile)), shard)
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// wouldCount reports whether application e changes anything beside the applications ex of
// its key already stored: a delete not yet stored, or an event with no delete and no
// application published before it (or the same message again).
func wouldCount(e logEvent, ex []app) bool {
	for _, x := range ex {
		switch {
		case x.Delete:
			return false
		case e.Delete:
		case !before(e.PublishTime, e.MessageID, x.PublishTime, x.MessageID):
			return false
		}
	}
	return true
}

// addCounts adds d to each of cs at time at, in every bucket size, in the given shard.
func addCounts(counts map[seriesKey]map[string]int64, cs []Count, at time.Time, shard int, d int64) {
	for _, c := range cs {
		for _, size := range BucketSizes {
			sk := seriesKey{ranking: c.Ranking, size: size, bucket: at.UTC().Truncate(size).Unix(), shard: shard}
			if counts[sk] == nil {
				counts[sk] = map[string]int64{}
			}
			counts[sk][c.Key] += d
		}
	}
}

// planCounts places counts in counter documents if the commit's other writes leave room for
// at least a write per series and each increment's field path, and returns the writes and
// bytes with them.
func (s *Store) planCounts(counts map[seriesKey]map[string]int64, writes, bytes int) ([]*counterWrite, int, int) {
	leastWrites, leastBytes := len(counts), 0
	for _, deltas := range counts {
		for key := range deltas {
			f, _ := countField(key)
			leastBytes += 3*len(f) + 32
		}
	}
	if writes+leastWrites > maxWrites || bytes+leastBytes > commitBytesBudget {
		return nil, writes + leastWrites, bytes + leastBytes
	}
	plan := s.counters.plan(counts)
	for _, w := range plan {
		writes, bytes = writes+1, bytes+w.bytes
	}
	return plan, writes, bytes
}

// lookUp returns the keys of which another record than own holds an application: the key
// queries ask for document names only, and only the other records are read.
func (s *Store) lookUp(ctx context.Context, keys []string, own map[string]bool) (map[string]bool, error) {
	byHash := map[string]string{}
	var hashes []string
	for _, k := range keys {
		h := hashKey(k)
		byHash[h] = k
		hashes = append(hashes, h)
	}
	others := map[string]*firestore.DocumentRef{}
	var mu sync.Mutex
	err := forChunks(ctx, hashes, func(ctx context.Context, chunk []any) error {
		snaps, err := s.c.Collection(s.o.Collections.Log).Where("keys", "array-contains-any", chunk).Select().Documents(ctx).GetAll()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, snap := range snaps {
			if !own[snap.Ref.ID] {
				others[snap.Ref.ID] = snap.Ref
			}
		}
		return nil
	})
	if err != nil || len(others) == 0 {
		return nil, err
	}
	refs := make([]*firestore.DocumentRef, 0, len(others))
	for _, r := range others {
		refs = append(refs, r)
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue // expired since
		}
		var d struct {
			Keys []string `firestore:"keys"`
		}
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decoding ranking record %s: %w", snap.Ref.Path, err)
		}
		for _, h := range d.Keys {
			if k, ok := byHash[h]; ok {
				found[k] = true
			}
		}
	}
	return found, nil
}

// forChunks calls f with the values in chunks of queryValues, at most 8 at a time.
func forChunks(ctx context.Context, values []string, f func(context.Context, []any) error) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var first error
	for i := 0; i < len(values); i += queryValues {
		chunk := make([]any, 0, queryValues)
		for _, v := range values[i:min(i+queryValues, len(values))] {
			chunk = append(chunk, v)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, chunk); err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// appsOf returns the stored applications of keys: those the records hold (with records) and
// the keys' markers (with markers), each key's in the order they count.
func (s *Store) appsOf(ctx context.Context, keys []string, records, markers bool) (map[string][]app, error) {
	out := map[string][]app{}
	var mu sync.Mutex
	if records {
		byHash := map[string]string{}
		var hashes []string
		for _, k := range keys {
			h := hashKey(k)
			byHash[h] = k
			hashes = append(hashes, h)
		}
		seen := map[string]bool{}
		err := forChunks(ctx, hashes, func(ctx context.Context, chunk []any) error {
			snaps, err := s.c.Collection(s.o.Collections.Log).Where("keys", "array-contains-any", chunk).Documents(ctx).GetAll()
			if err != nil {
				return fmt.Errorf("reading the ranking records of %d keys: %w", len(chunk), err)
			}
			for _, snap := range snaps {
				mu.Lock()
				dup := seen[snap.Ref.ID]
				seen[snap.Ref.ID] = true
				mu.Unlock()
				if dup {
					continue
				}
				as, err := decodeRecord(snap)
				if err != nil {
					return err
				}
				mu.Lock()
				for _, a := range as {
					if k, ok := byHash[hashKey(a.Key)]; ok && k == a.Key {
						out[k] = append(out[k], a)
					}
				}
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if markers && len(keys) > 0 {
		refs := make([]*firestore.DocumentRef, len(keys))
		for i, k := range keys {
			refs[i] = s.markerRef(k)
		}
		snaps, err := s.c.GetAll(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("reading %d event markers: %w", len(keys), err)
		}
		for i, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			d, err := decodeMarker(snap)
			if err != nil {
				return nil, err
			}
			a := app{id: "marker", logEvent: logEvent{Key: keys[i], PublishTime: d.PublishTime, MessageID: d.MessageID, Delete: d.Deleted,
				CountAt: d.CountedAt, Counts: d.Counted, Tweet: d.Tweet}}
			if !a.Delete && a.PublishTime.IsZero() {
				continue
			}
			out[keys[i]] = append(out[keys[i]], a)
		}
	}
	for _, as := range out {
		sortApps(as)
	}
	return out, nil
}

// reconcileAll reconciles keys, at most 16 at a time.
func (s *Store) reconcileAll(ctx context.Context, keys []string, shard int) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make([]error, len(keys))
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.reconcile(ctx, k, shard)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ledger is a key's rankings_dups document: the applications whose counts were taken out.
type ledger struct {
	Reversed []string `json:"r"`
}

func decodeLedger(snap *firestore.DocumentSnapshot) (ledger, error) {
	var d struct {
		Body []byte `firestore:"body"`
	}
	var l ledger
	if err := snap.DataTo(&d); err != nil {
		return l, fmt.Errorf("decoding ranking ledger %s: %w", snap.Ref.ID, err)
	}
	if err := json.Unmarshal(d.Body, &l); err != nil {
		return l, fmt.Errorf("decoding ranking ledger %s's body: %w", snap.Ref.ID, err)
	}
	return l, nil
}

// toReverse returns the applications of apps (in counting order) that must not count and are
// not in reversed: every one once the key has a delete, else all but the first.
func toReverse(apps []app, reversed []string) []app {
	deleted := slices.ContainsFunc(apps, func(a app) bool { return a.Delete })
	var out []app
	kept := false
	for _, a := range apps {
		if a.Delete {
			continue
		}
		if !deleted && !kept {
			kept = true
			continue
		}
		if !slices.Contains(reversed, a.id) {
			out = append(out, a)
		}
	}
	return out
}

// reconcile takes out the counts of key's applications that must not count, and records them
// in the key's ledger under a precondition on the ledger as read: a concurrent reconciler
// makes the commit fail, and it starts again from what is stored then.
func (s *Store) reconcile(ctx context.Context, key string, shard int) error {
	ref := s.c.Collection(s.o.Collections.Dups).Doc(hashKey(key))
	markers, err := s.markersWindow(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		s.stats.reconciles.Add(1)
		snap, err := ref.Get(ctx)
		exists := err == nil
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("reading ranking ledger %s: %w", ref.ID, err)
		}
		var l ledger
		if exists {
			if l, err = decodeLedger(snap); err != nil {
				return err
			}
		}
		apps, err := s.appsOf(ctx, []string{key}, true, markers)
		if err != nil {
			return err
		}
		newly := toReverse(apps[key], l.Reversed)
		if len(newly) == 0 {
			return nil
		}
		counts := map[seriesKey]map[string]int64{}
		cards := cardDeltas{}
		for _, a := range newly {
			addCounts(counts, a.Counts, a.countedAt(), shard, -1)
			cards.add(a.Tweet, -1)
			l.Reversed = append(l.Reversed, a.id)
		}
		body, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encoding ranking ledger %s: %w", ref.ID, err)
		}
		now := s.o.Now()
		data := map[string]any{bodyField: body, "expires_at": now.Add(s.o.Retention)}
		wb := s.c.Batch()
		if exists {
			wb.Update(ref, []firestore.Update{{Path: bodyField, Value: body}, {Path: "expires_at", Value: data["expires_at"]}}, firestore.LastUpdateTime(snap.UpdateTime))
		} else {
			wb.Create(ref, data)
		}
		cardAdds, cardBytes := s.cardWrites(cards, now)
		for _, add := range cardAdds {
			add(wb)
		}
		plan, writes, bytes := s.planCounts(counts, 1+len(cardAdds), len(body)+cardBytes+256)
		if writes > maxWrites || bytes > commitBytesBudget {
			return fmt.Errorf("%w: reconciling a ranking key takes %d writes, about %d bytes", errTooBig, writes, bytes)
		}
		for _, w := range plan {
			w.set(s.c, s.o.Collections.Counts, wb)
		}
		s.stats.commits.Add(1)
		_, err = wb.Commit(ctx)
		if err == nil {
			s.counters.confirm(plan)
			return nil
		}
		if (!conflict(err) && !transient(err)) || attempt >= 30 || ctx.Err() != nil {
			return fmt.Errorf("reconciling a ranking key: %w", err)
		}
		time.Sleep(time.Duration(5+attempt*5) * time.Millisecond)
	}
}

// markersWindow reports whether markers of the markers layout may still hold keys: the log
// layout then reads them as applications, until Retention after the switch (layoutMeta).
func (s *Store) markersWindow(ctx context.Context) (bool, error) {
	if s.o.Layout != LayoutLog {
		return false, nil
	}
	until, err := s.markersUntil(ctx)
	if err != nil {
		return false, err
	}
	return s.o.Now().Before(until), nil
}
