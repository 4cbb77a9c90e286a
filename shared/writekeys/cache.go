package writekeys

import (
	"context"
	"sync"
	"time"
)

// Cache bounds.
const (
	// DefaultTTL is how long an instance trusts what it read of a key: a key revoked (or
	// rotated, or its origins or rate changed) takes effect on every instance within this
	// time, plus the time one lookup takes.
	DefaultTTL = 30 * time.Second
	// MaxCached is the most key ids one instance remembers, found or not: unknown ids are
	// remembered too (so a flood of made-up keys costs one read per id per TTL), and this
	// bounds what a flood of distinct ones can take. Past it, expired entries are dropped,
	// and if none are, the whole cache is.
	MaxCached = 10_000
)

// Cache answers which key a request's key is, reading the store at most once per id per TTL.
type Cache struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	key     Key
	found   bool
	fetched time.Time
}

// NewCache returns a cache of store; ttl 0 means DefaultTTL, now nil means time.Now.
func NewCache(store Store, ttl time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{store: store, ttl: ttl, now: now, entries: map[string]entry{}}
}

// TTL is the cache's TTL: the bound on how long a revoked key keeps working.
func (c *Cache) TTL() time.Duration { return c.ttl }

// Lookup returns the record of key if key is a live key: ErrMalformed, ErrUnknown (also for a
// key whose id exists but whose secret does not match) or ErrRevoked otherwise. Another
// error means the store could not be read.
func (c *Cache) Lookup(ctx context.Context, key string) (Key, error) {
	id, err := Parse(key)
	if err != nil {
		return Key{}, err
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || now.Sub(e.fetched) >= c.ttl || now.Before(e.fetched) {
		k, found, err := c.store.Get(ctx, id)
		if err != nil {
			return Key{}, err
		}
		e = entry{key: k, found: found, fetched: now}
		c.put(id, e)
	}
	switch {
	case !e.found || !e.key.Matches(key):
		return Key{}, ErrUnknown
	case e.key.Revoked:
		return Key{}, ErrRevoked
	}
	return e.key, nil
}

func (c *Cache) put(id string, e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= MaxCached {
		for k, old := range c.entries {
			if e.fetched.Sub(old.fetched) >= c.ttl {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= MaxCached {
			clear(c.entries)
		}
	}
	c.entries[id] = e
}
