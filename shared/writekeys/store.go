package writekeys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultCollection is the Firestore collection of the keys (WRITE_KEYS_COLLECTION), in the
// (default) database where CollectEvents already keeps its seen ids.
const DefaultCollection = "collect_write_keys"

// Store holds the key records.
type Store interface {
	// Get returns the record of id; found is false when there is none.
	Get(ctx context.Context, id string) (k Key, found bool, err error)
	// Put writes the record under k.ID.
	Put(ctx context.Context, k Key) error
	// List returns every record, by id.
	List(ctx context.Context) ([]Key, error)
}

// FirestoreStore keeps one document per key in a collection.
type FirestoreStore struct {
	c   *firestore.Client
	col string
}

// NewFirestoreStore returns the store of collection col.
func NewFirestoreStore(c *firestore.Client, col string) *FirestoreStore {
	return &FirestoreStore{c: c, col: col}
}

// Get implements Store.
func (s *FirestoreStore) Get(ctx context.Context, id string) (Key, bool, error) {
	snap, err := s.c.Collection(s.col).Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return Key{}, false, nil
	}
	if err != nil {
		return Key{}, false, fmt.Errorf("reading write key %s/%s: %w", s.col, id, err)
	}
	var k Key
	if err := snap.DataTo(&k); err != nil {
		return Key{}, false, fmt.Errorf("decoding write key %s/%s: %w", s.col, id, err)
	}
	k.ID = id
	return k, true, nil
}

// Put implements Store.
func (s *FirestoreStore) Put(ctx context.Context, k Key) error {
	if _, err := s.c.Collection(s.col).Doc(k.ID).Set(ctx, k); err != nil {
		return fmt.Errorf("writing write key %s/%s: %w", s.col, k.ID, err)
	}
	return nil
}

// List implements Store.
func (s *FirestoreStore) List(ctx context.Context) ([]Key, error) {
	it := s.c.Collection(s.col).Documents(ctx)
	defer it.Stop()
	var out []Key
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing write keys in %s: %w", s.col, err)
		}
		var k Key
		if err := snap.DataTo(&k); err != nil {
			return nil, fmt.Errorf("decoding write key %s/%s: %w", s.col, snap.Ref.ID, err)
		}
		k.ID = snap.Ref.ID
		out = append(out, k)
	}
}

// MemStore is a Store in memory, for tests and local runs.
type MemStore struct {
	mu   sync.Mutex
	keys map[string]Key
	// Gets counts Get calls: tests read it to see the cache at work.
	Gets int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{keys: map[string]Key{}} }

// Get implements Store.
func (s *MemStore) Get(_ context.Context, id string) (Key, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Gets++
	k, ok := s.keys[id]
	return k, ok, nil
}

// Put implements Store.
func (s *MemStore) Put(_ context.Context, k Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.ID] = k
	return nil
}

// List implements Store.
func (s *MemStore) List(context.Context) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
