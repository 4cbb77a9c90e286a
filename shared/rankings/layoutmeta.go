package rankings

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The log layout's start. A deployment that switches from the markers layout has markers for
// the events of the last Retention: a redelivery or another message of such an event must meet
// its marker, so the log layout reads the group's markers too (one read per event) until
// Retention after the switch. The first Store to run the log layout on a database records the
// switch in Collections.Meta's document "log" (created once, with a must-not-exist
// precondition): when, and until when markers matter (never, on a database with no marker).
const metaDoc = "log"

// markersUntil is when markers stop mattering (zero: they never did), read once per Store.
func (s *Store) markersUntil(ctx context.Context) (time.Time, error) {
	s.meta.mu.Lock()
	defer s.meta.mu.Unlock()
	if s.meta.known {
		return s.meta.until, nil
	}
	ref := s.c.Collection(s.o.Collections.Meta).Doc(metaDoc)
	for range 3 {
		snap, err := ref.Get(ctx)
		if err == nil {
			var d struct {
				MarkersUntil time.Time `firestore:"markers_until"`
			}
			if err := snap.DataTo(&d); err != nil {
				return time.Time{}, fmt.Errorf("decoding %s: %w", ref.Path, err)
			}
			s.meta.known, s.meta.until = true, d.MarkersUntil
			return d.MarkersUntil, nil
		}
		if status.Code(err) != codes.NotFound {
			return time.Time{}, fmt.Errorf("reading %s: %w", ref.Path, err)
		}
		if s.o.ReadOnly {
			// No writer has run the log layout yet: markers are all there is. Not kept, so the
			// start is read again until a writer records it.
			return s.o.Now().Add(s.o.Retention), nil
		}
		found, err := s.anyMarker(ctx)
		if err != nil {
			return time.Time{}, err
		}
		now := s.o.Now().UTC()
		until := time.Unix(0, 0).UTC()
		if found {
			until = now.Add(s.o.Retention)
		}
		_, err = ref.Create(ctx, map[string]any{"since": now, "markers_until": until})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return time.Time{}, fmt.Errorf("recording the log layout's start in %s: %w", ref.Path, err)
		}
		// Created, or created by another Store first: read what is stored.
	}
	return time.Time{}, fmt.Errorf("reading %s: created but not found", ref.Path)
}

// anyMarker reports whether the markers layout left any marker.
func (s *Store) anyMarker(ctx context.Context) (bool, error) {
	for _, coll := range []string{s.o.Collections.Tweets, s.o.Collections.Events} {
		snaps, err := s.c.Collection(coll).Select().Limit(1).Documents(ctx).GetAll()
		if err != nil {
			return false, fmt.Errorf("looking for markers in %s: %w", coll, err)
		}
		if len(snaps) > 0 {
			return true, nil
		}
	}
	return false, nil
}
