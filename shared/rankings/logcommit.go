package rankings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
)

// tryCommitLog makes one commit of batch in the log layout (log.go), then reconciles each key
// another record (or a marker) holds. With read it first reads every key's applications and
// writes only those that would count, so a redelivered backlog writes nothing but the
// reconciling of keys left unreconciled.
func (s *Store) tryCommitLog(ctx context.Context, batch []*pending, shard int, read bool) error {
	now := s.o.Now()
	events, _ := groupApps(batch)
	keys := make([]keyAt, len(events))
	byKey := map[string]keyAt{}
	for i, e := range events {
		keys[i] = e.at()
		byKey[e.Key] = keys[i]
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
	// known are the applications read of keys this group does not write: reconciling from them
	// is safe (any application it takes out would be taken out with every application known,
	// as the earliest only gets earlier), and a concurrent writer reconciles what it adds.
	known := map[string][]app{}
	var write []logEvent
	for _, e := range events {
		ex := existing[e.Key]
		if len(ex) > 0 {
			reconcile[e.Key] = true
		}
		if wouldCount(e, ex) {
			write = append(write, e)
		} else if read && len(ex) > 0 {
			known[e.Key] = ex
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
	pages := pageWrites{}
	for _, r := range records {
		data, err := r.fields(now, s.o.Retention)
		if err != nil {
			return err
		}
		own[r.ref.ID] = true
		adds = append(adds, func(wb *firestore.WriteBatch) { wb.Create(r.ref, data) })
		writes, bytes = writes+1, bytes+len(r.ref.Path)+wireBytes(data)
		for i, e := range r.events {
			flag := pageCounts
			if e.Delete {
				flag = pageDelete
			}
			pages.add(s.pageRef(e.at()), hashKey(e.Key), fmt.Sprintf("%s:%d", r.ref.ID, i), flag)
		}
	}
	expires := now.Add(s.o.Retention)
	for _, w := range pages {
		adds = append(adds, func(wb *firestore.WriteBatch) { w.set(wb, expires) })
		writes, bytes = writes+1, bytes+w.bytes
	}
	cardAdds, cardBytes := s.cardWrites(cards, now)
	adds = append(adds, cardAdds...)
	writes, bytes = writes+len(cardAdds), bytes+cardBytes
	plan, writes, bytes := s.planCounts(counts, writes, bytes)
	if writes > maxWrites || bytes > commitBytesBudget {
		return fmt.Errorf("%w: %d writes (at most %d), about %d bytes (at most %d)", errTooBig, writes, maxWrites, bytes, commitBytesBudget)
	}
	if writes > 0 {
		if err := s.commitWrites(ctx, adds, plan, read); err != nil {
			return err
		}
	}

	// The look-up: which written keys another record holds.
	var written []keyAt
	for _, e := range write {
		written = append(written, e.at())
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
	var rec []keyAt
	for _, k := range slices.Sorted(mapsKeys(reconcile)) {
		rec = append(rec, byKey[k])
	}
	return s.reconcileAll(ctx, rec, known, shard)
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

// lookUp returns the keys of which another record than own holds an application, from the
// keys' pages (keypages.go).
func (s *Store) lookUp(ctx context.Context, keys []keyAt, own map[string]bool) (map[string]bool, error) {
	entries, err := s.pageEntries(ctx, keys)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for k, apps := range entries {
		for id := range apps {
			if rec, _, _ := strings.Cut(id, ":"); !own[rec] {
				found[k] = true
			}
		}
	}
	return found, nil
}

// appsOf returns the stored applications of keys: those the records hold (with records) and
// the keys' markers (with markers), each key's in the order they count.
func (s *Store) appsOf(ctx context.Context, keys []keyAt, records, markers bool) (map[string][]app, error) {
	out := map[string][]app{}
	if records && len(keys) > 0 {
		entries, err := s.pageEntries(ctx, keys)
		if err != nil {
			return nil, err
		}
		refs := map[string]*firestore.DocumentRef{}
		for _, apps := range entries {
			for id := range apps {
				rec, _, _ := strings.Cut(id, ":")
				refs[rec] = s.c.Collection(s.o.Collections.Log).Doc(rec)
			}
		}
		if len(refs) > 0 {
			list := make([]*firestore.DocumentRef, 0, len(refs))
			for _, r := range refs {
				list = append(list, r)
			}
			snaps, err := s.c.GetAll(ctx, list)
			if err != nil {
				return nil, fmt.Errorf("reading %d ranking records: %w", len(list), err)
			}
			for _, snap := range snaps {
				if !snap.Exists() {
					continue // expired since
				}
				as, err := decodeRecord(snap)
				if err != nil {
					return nil, err
				}
				for _, a := range as {
					if _, ok := entries[a.Key][a.id]; ok {
						out[a.Key] = append(out[a.Key], a)
					}
				}
			}
		}
	}
	if markers && len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.Key
		}
		ms, err := s.readMarkers(ctx, names)
		if err != nil {
			return nil, err
		}
		for i, d := range ms {
			if d == nil {
				continue
			}
			a := app{id: "marker", logEvent: logEvent{Key: keys[i].Key, PublishTime: d.PublishTime, MessageID: d.MessageID, Delete: d.Deleted,
				CountAt: d.CountedAt, Counts: d.Counted, Tweet: d.Tweet}}
			if !a.Delete && a.PublishTime.IsZero() {
				continue
			}
			out[keys[i].Key] = append(out[keys[i].Key], a)
		}
	}
	for _, as := range out {
		sortApps(as)
	}
	return out, nil
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

// reconcileAll takes out the counts of keys' applications that must not count, and records
// them in each key's ledger, in one commit for all the keys under a precondition on each
// ledger as read: a concurrent reconciler of any of them makes the commit fail, and it starts
// again from what is stored then. known, if it has a key, are its applications as already
// read (the first attempt does not read them again). Keys whose reconciling needs more than
// one commit takes are reconciled in halves.
func (s *Store) reconcileAll(ctx context.Context, keys []keyAt, known map[string][]app, shard int) error {
	if len(keys) == 0 {
		return nil
	}
	markers, err := s.markersWindow(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.tryReconcile(ctx, keys, known, markers, shard)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errTooBig) && len(keys) > 1:
			h := len(keys) / 2
			return errors.Join(s.reconcileAll(ctx, keys[:h], known, shard), s.reconcileAll(ctx, keys[h:], known, shard))
		case (!conflict(err) && !transient(err)) || attempt >= 30 || ctx.Err() != nil:
			return fmt.Errorf("reconciling %d ranking keys: %w", len(keys), err)
		}
		known = nil // read everything again
		time.Sleep(time.Duration(5+rand.IntN(5+attempt*10)) * time.Millisecond)
	}
}

func (s *Store) tryReconcile(ctx context.Context, keys []keyAt, known map[string][]app, markers bool, shard int) error {
	s.stats.reconciles.Add(1)
	refs := make([]*firestore.DocumentRef, len(keys))
	for i, k := range keys {
		refs[i] = s.c.Collection(s.o.Collections.Dups).Doc(hashKey(k.Key))
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return fmt.Errorf("reading %d ranking ledgers: %w", len(keys), err)
	}
	var unknown []keyAt
	for _, k := range keys {
		if _, ok := known[k.Key]; !ok {
			unknown = append(unknown, k)
		}
	}
	apps, err := s.appsOf(ctx, unknown, true, markers)
	if err != nil {
		return err
	}
	now := s.o.Now()
	counts := map[seriesKey]map[string]int64{}
	cards := cardDeltas{}
	wb := s.c.Batch()
	writes, bytes := 0, 0
	for i, k := range keys {
		as, ok := known[k.Key]
		if !ok {
			as = apps[k.Key]
		}
		var l ledger
		if snaps[i].Exists() {
			if l, err = decodeLedger(snaps[i]); err != nil {
				return err
			}
		}
		newly := toReverse(as, l.Reversed)
		if len(newly) == 0 {
			continue
		}
		for _, a := range newly {
			addCounts(counts, a.Counts, a.countedAt(), shard, -1)
			cards.add(a.Tweet, -1)
			l.Reversed = append(l.Reversed, a.id)
		}
		body, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encoding ranking ledger %s: %w", refs[i].ID, err)
		}
		expires := now.Add(s.o.Retention)
		if snaps[i].Exists() {
			wb.Update(refs[i], []firestore.Update{{Path: bodyField, Value: body}, {Path: "expires_at", Value: expires}}, firestore.LastUpdateTime(snaps[i].UpdateTime))
		} else {
			wb.Create(refs[i], map[string]any{bodyField: body, "expires_at": expires})
		}
		writes, bytes = writes+1, bytes+len(refs[i].Path)+len(body)+64
	}
	if writes == 0 {
		return nil
	}
	cardAdds, cardBytes := s.cardWrites(cards, now)
	for _, add := range cardAdds {
		add(wb)
	}
	plan, writes, bytes := s.planCounts(counts, writes+len(cardAdds), bytes+cardBytes)
	if writes > maxWrites || bytes > commitBytesBudget {
		return fmt.Errorf("%w: reconciling %d ranking keys takes %d writes, about %d bytes", errTooBig, len(keys), writes, bytes)
	}
	for _, w := range plan {
		w.set(s.c, s.o.Collections.Counts, wb)
	}
	s.stats.commits.Add(1)
	if _, err := wb.Commit(ctx); err != nil {
		return err
	}
	s.counters.confirm(plan)
	return nil
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

// readMarkers reads the markers of keys: nil for a key with none.
func (s *Store) readMarkers(ctx context.Context, keys []string) ([]*decodedMarker, error) {
	refs := make([]*firestore.DocumentRef, len(keys))
	for i, k := range keys {
		refs[i] = s.markerRef(k)
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("reading %d event markers: %w", len(keys), err)
	}
	out := make([]*decodedMarker, len(snaps))
	for i, snap := range snaps { // GetAll answers in the order of refs
		if !snap.Exists() {
			continue
		}
		d, err := decodeMarker(snap)
		if err != nil {
			return nil, err
		}
		out[i] = &d
	}
	return out, nil
}
