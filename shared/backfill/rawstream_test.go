package backfill

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Pages streamed through a RawWriter read back as StoreRaw's do, and a smaller stream after a
// bigger one leaves no stale part.
func TestRawWriterStreamsParts(t *testing.T) {
	s, _, job := newStore(t, 1)
	ctx := t.Context()
	const shard = "id=1"
	var big [][]byte
	for i := range 30 {
		big = append(big, bytes.Repeat([]byte{byte('a' + i%26)}, 80_000+i))
	}
	stream := func(pages [][]byte) {
		t.Helper()
		w := s.NewRawWriter(job, shard)
		for _, p := range pages {
			if err := w.Add(ctx, p); err != nil {
				t.Fatalf("Add() = %v", err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		got, err := s.LoadRaw(ctx, job, shard)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(pages, got) {
			t.Errorf("LoadRaw() after streaming %d pages read %d pages that differ", len(pages), len(got))
		}
	}
	stream(big)
	if n := rawDocs(t, s, job); n != 3 {
		t.Errorf("raw documents after a 2.4 MB stream = %d, want 3 parts", n)
	}
	stream(big[:2])
	if n := rawDocs(t, s, job); n != 1 {
		t.Errorf("raw documents after a 160 KB stream = %d, want 1 (stale parts deleted)", n)
	}
	stream(nil)
}
