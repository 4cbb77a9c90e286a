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

// Pages written in pieces (a body stored as it is read) read back whole, an empty page
// included, and a part boundary may fall inside a piece.
func TestRawWriterPagesInPieces(t *testing.T) {
	s, _, job := newStore(t, 1)
	ctx := t.Context()
	const shard = "id=2"
	pages := [][]byte{bytes.Repeat([]byte("x"), 1_500_000), {}, []byte(`{"rows":[]}`)}
	w := s.NewRawWriter(job, shard)
	for _, p := range pages {
		for len(p) > 0 {
			n := min(7_000, len(p))
			if err := w.Write(ctx, p[:n]); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			p = p[n:]
		}
		if err := w.EndPage(ctx); err != nil {
			t.Fatalf("EndPage() = %v", err)
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
		t.Errorf("LoadRaw() read %d pages of %v bytes, want %d of 1500000, 0, 11", len(got), pageSizes(got), len(pages))
	}
}

func pageSizes(pages [][]byte) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}
