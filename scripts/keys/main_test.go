package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// TestLifecycle creates, lists, rotates and revokes a key, and checks what a CollectEvents
// cache makes of each key after each step.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	store := writekeys.NewMemStore()
	do := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, store, args, &out, clock.Now); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	lookup := func(key string) error {
		_, err := writekeys.NewCache(store, time.Second, clock.Now).Lookup(ctx, key)
		return err
	}
	out := do("create", "--app", "shop", "--origin", "https://shop.example", "--rate", "5", "--burst", "10")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key1 := lines[len(lines)-1]
	id1, err := writekeys.Parse(key1)
	if err != nil {
		t.Fatalf("create printed %q, not a key: %v", out, err)
	}
	if err := lookup(key1); err != nil {
		t.Errorf("new key: %v", err)
	}
	if l := do("list"); !strings.Contains(l, id1) || strings.Contains(l, key1) || !strings.Contains(l, "live") {
		t.Errorf("list shows the id and state but never the key:\n%s", l)
	}
	out = do("rotate", id1)
	var newKey string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, writekeys.Prefix) {
			newKey = l
		}
	}
	if err := lookup(newKey); err != nil {
		t.Errorf("rotated key: %v", err)
	}
	if err := lookup(key1); !errors.Is(err, writekeys.ErrRevoked) {
		t.Errorf("old key after rotate: %v, want ErrRevoked", err)
	}
	id2, _ := writekeys.Parse(newKey)
	do("revoke", id2)
	if err := lookup(newKey); !errors.Is(err, writekeys.ErrRevoked) {
		t.Errorf("revoked key: %v, want ErrRevoked", err)
	}
	var sink bytes.Buffer
	for _, bad := range [][]string{{"create", "--app", "Shop!"}, {"create", "--app", "shop", "--origin", "https://shop.example/"}, {"revoke"}, {"frobnicate"}} {
		var ue usageError
		if err := run(ctx, store, bad, &sink, clock.Now); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}
