package writekeys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
)

func TestNewAndParse(t *testing.T) {
	key, rec, err := New(Key{App: "shop", Origins: []string{"https://shop.example"}, RatePerSec: 5, Burst: 10}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != MaxKeyLen {
		t.Errorf("key is %d characters, want exactly MaxKeyLen %d", len(key), MaxKeyLen)
	}
	id, err := Parse(key)
	if err != nil || id != rec.ID {
		t.Errorf("Parse(new key) = %q, %v; want %q", id, err, rec.ID)
	}
	// A changed last character: "A", or "B" when the random key already ends in "A" (1 in 64).
	last := "A"
	if strings.HasSuffix(key, "A") {
		last = "B"
	}
	if !rec.Matches(key) || rec.Matches(key[:len(key)-1]+last) {
		t.Error("Matches: the key must match its record and a changed key must not")
	}
	if strings.Contains(rec.Hash, key) {
		t.Error("the record holds the key")
	}
	for _, bad := range []string{"", "wk_", key + "A", strings.ToUpper(key), "xx" + key[2:], key[:20]} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Key{App: "shop", Origins: []string{"https://shop.example", "http://localhost:8080"}, RatePerSec: 1, Burst: 1}
	tests := []struct {
		name    string
		change  func(*Key)
		wantErr string
	}{
		{"valid", func(*Key) {}, ""},
		{"bad app", func(k *Key) { k.App = "Shop!" }, "app"},
		{"origin with a path", func(k *Key) { k.Origins = []string{"https://shop.example/"} }, "no path"},
		{"origin upper case", func(k *Key) { k.Origins = []string{"https://Shop.example"} }, "lower case"},
		{"origin of another scheme", func(k *Key) { k.Origins = []string{"ftp://shop.example"} }, "http(s)"},
		{"origin at its bound", func(k *Key) { k.Origins = []string{"https://" + strings.Repeat("a", MaxOriginLen-8)} }, ""},
		{"origin one past its bound", func(k *Key) { k.Origins = []string{"https://" + strings.Repeat("a", MaxOriginLen-7)} }, "longer than"},
		{"origins at their bound", func(k *Key) { k.Origins = manyOrigins(MaxOrigins) }, ""},
		{"origins one past their bound", func(k *Key) { k.Origins = manyOrigins(MaxOrigins + 1) }, "over the limit"},
		{"rate zero", func(k *Key) { k.RatePerSec = 0 }, "rate_per_sec"},
		{"rate at its bound", func(k *Key) { k.RatePerSec = MaxRatePerSec }, ""},
		{"rate past its bound", func(k *Key) { k.RatePerSec = MaxRatePerSec + 0.5 }, "rate_per_sec"},
		{"burst at its bound", func(k *Key) { k.Burst = MaxBurst }, ""},
		{"burst past its bound", func(k *Key) { k.Burst = MaxBurst + 1 }, "burst"},
	}
	for _, tt := range tests {
		k := ok
		tt.change(&k)
		err := k.Validate()
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func manyOrigins(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "https://s" + strings.Repeat("x", i) + ".example"
	}
	return out
}

// TestCacheTTL: a lookup reads the store once per TTL; a revocation is seen at the TTL.
func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	store := NewMemStore()
	key, rec, err := New(Key{App: "shop", RatePerSec: 1, Burst: 1}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_ = store.Put(ctx, rec)
	c := NewCache(store, 10*time.Second, clock.Now)
	for range 3 {
		if _, err := c.Lookup(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if store.Gets != 1 {
		t.Errorf("3 lookups within the TTL read the store %d times, want 1", store.Gets)
	}
	rec.Revoked = true
	_ = store.Put(ctx, rec)
	clock.Advance(10*time.Second - time.Nanosecond)
	if _, err := c.Lookup(ctx, key); err != nil {
		t.Errorf("just inside the TTL: %v, want the cached live key", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := c.Lookup(ctx, key); !errors.Is(err, ErrRevoked) {
		t.Errorf("at the TTL: %v, want ErrRevoked", err)
	}
}

// TestCacheBound: distinct unknown ids past MaxCached do not grow the cache past it.
func TestCacheBound(t *testing.T) {
	ctx := context.Background()
	c := NewCache(NewMemStore(), time.Minute, nil)
	for i := range MaxCached + 1 {
		key := Prefix + strings.Repeat("0", 8) + hex8(i) + "_" + strings.Repeat("A", 43)
		if _, err := c.Lookup(ctx, key); !errors.Is(err, ErrUnknown) {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if n := len(c.entries); n > MaxCached {
		t.Errorf("cache holds %d entries, over MaxCached %d", n, MaxCached)
	}
}

func hex8(i int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for j := 7; j >= 0; j-- {
		b[j] = digits[i&15]
		i >>= 4
	}
	return string(b)
}

func FuzzParse(f *testing.F) {
	f.Add("wk_0123456789abcdef_" + strings.Repeat("A", 43))
	f.Add("wk_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		if len(s) > MaxKeyLen || len(id) != 16 || !strings.HasPrefix(s, Prefix+id+"_") {
			t.Errorf("Parse(%q) = %q accepted a key of the wrong shape", s, id)
		}
	})
}

func FuzzValidOrigin(f *testing.F) {
	f.Add("https://shop.example")
	f.Add("http://localhost:8080")
	f.Add("https://a.example/x?y#z")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidOrigin(s) != nil {
			return
		}
		if len(s) > MaxOriginLen || strings.ContainsAny(s, "?#") || strings.Count(s, "/") != 2 || strings.ToLower(s) != s {
			t.Errorf("ValidOrigin(%q) accepted a string that is not a serialized origin", s)
		}
	})
}
