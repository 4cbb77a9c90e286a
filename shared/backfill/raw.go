package backfill

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rawPartSize is the most bytes one raw document holds: Firestore caps a document at 1 MiB,
// and the part's other fields and names need room.
const rawPartSize = 900_000

// rawPartsPerBatch keeps one commit under Firestore's 10 MiB request limit.
const rawPartsPerBatch = 8

// rawDoc is one part of a task's raw API responses.
type rawDoc struct {
	Job      string    `firestore:"job"`
	Shard    string    `firestore:"shard"`
	Part     int       `firestore:"part"`
	Parts    int       `firestore:"parts"`
	Pages    int       `firestore:"pages"`
	Write    string    `firestore:"write"` // one id per StoreRaw call: parts of different writes never mix
	Data     []byte    `firestore:"data"`
	StoredAt time.Time `firestore:"stored_at"`
	// Chunked (RawWriter's) says each page is framed as pieces ended by an empty one, not as
	// one length and the page.
	Chunked bool `firestore:"chunked,omitempty"`
}

// RawDocID is the id prefix of a shard's raw documents ({id}-p0, {id}-p1...): the readable
// shard name with '/' replaced (Firestore ids cannot hold it), cut to 100 bytes, and a hash
// of the full name so that different shards never share an id.
func RawDocID(shard string) string {
	sum := sha256.Sum256([]byte(shard))
	name := strings.NewReplacer("/", "_", ".", "-").Replace(shard)
	if len(name) > 100 {
		name = name[:100]
	}
	return name + "-" + hex.EncodeToString(sum[:6])
}

func (s *Store) rawRef(job, shard string, part int) *firestore.DocumentRef {
	return s.jobRef(job).Collection("raw").Doc(fmt.Sprintf("%s-p%d", RawDocID(shard), part))
}

// StoreRaw keeps a task's raw API responses (its pages, as received) under ids derived from
// the shard, so storing them again overwrites them. Responses bigger than one document are
// split in parts of at most rawPartSize bytes; parts left from an earlier, bigger write are
// deleted. Part 0 is written last, so LoadRaw never mixes two writes.
func (s *Store) StoreRaw(ctx context.Context, job, shard string, pages [][]byte) error {
	blob := framePages(pages)
	parts := max((len(blob)+rawPartSize-1)/rawPartSize, 1)

	oldParts := 0
	snap, err := s.rawRef(job, shard, 0).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return fmt.Errorf("reading raw results of shard %q of backfill job %s: %w", shard, job, err)
	default:
		var old rawDoc
		if err := snap.DataTo(&old); err == nil {
			oldParts = old.Parts
		}
	}

	write := newWriteID()
	now := s.now().UTC()
	doc := func(k int) rawDoc {
		end := min((k+1)*rawPartSize, len(blob))
		return rawDoc{Job: job, Shard: shard, Part: k, Parts: parts, Pages: len(pages), Write: write,
			Data: blob[k*rawPartSize : end], StoredAt: now}
	}
	// Parts 1.. first, then part 0 (which names the write), then the stale parts.
	for from := 1; from < parts; from += rawPartsPerBatch {
		b := s.client.Batch()
		for k := from; k < min(from+rawPartsPerBatch, parts); k++ {
			b.Set(s.rawRef(job, shard, k), doc(k))
		}
		if _, err := b.Commit(ctx); err != nil {
			return fmt.Errorf("storing raw results of shard %q of backfill job %s: %w", shard, job, err)
		}
	}
	b := s.client.Batch()
	b.Set(s.rawRef(job, shard, 0), doc(0))
	for k := parts; k < oldParts; k++ {
		b.Delete(s.rawRef(job, shard, k))
	}
	if _, err := b.Commit(ctx); err != nil {
		return fmt.Errorf("storing raw results of shard %q of backfill job %s: %w", shard, job, err)
	}
	return nil
}

// LoadRaw returns the pages StoreRaw stored for the shard.
func (s *Store) LoadRaw(ctx context.Context, job, shard string) ([][]byte, error) {
	var blob []byte
	var first rawDoc
	for k := 0; k == 0 || k < first.Parts; k++ {
		snap, err := s.rawRef(job, shard, k).Get(ctx)
		if status.Code(err) == codes.NotFound && k == 0 {
			return nil, fmt.Errorf("reading raw results of shard %q of backfill job %s: %w", shard, job, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("reading raw part %d of shard %q of backfill job %s: %w", k, shard, job, err)
		}
		var d rawDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decoding raw part %d of shard %q of backfill job %s: %w", k, shard, job, err)
		}
		if k == 0 {
			first = d
		} else if d.Write != first.Write {
			return nil, fmt.Errorf("raw part %d of shard %q of backfill job %s is from another write: it is being rewritten", k, shard, job)
		}
		blob = append(blob, d.Data...)
	}
	unframe := unframePages
	if first.Chunked {
		unframe = unframeChunks
	}
	pages, err := unframe(blob)
	if err != nil {
		return nil, fmt.Errorf("decoding raw results of shard %q of backfill job %s: %w", shard, job, err)
	}
	return pages, nil
}

// framePages joins pages, each prefixed by its length as a uvarint: pages are arbitrary bytes.
func framePages(pages [][]byte) []byte {
	var out []byte
	for _, p := range pages {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

func unframePages(blob []byte) ([][]byte, error) {
	var pages [][]byte
	for len(blob) > 0 {
		n, w := binary.Uvarint(blob)
		if w <= 0 || uint64(len(blob)-w) < n {
			return nil, fmt.Errorf("truncated page framing")
		}
		pages = append(pages, blob[w:w+int(n)])
		blob = blob[w+int(n):]
	}
	return pages, nil
}

// unframeChunks reads RawWriter's framing: each page is pieces, each prefixed by its length as a
// uvarint, ended by a zero length.
func unframeChunks(blob []byte) ([][]byte, error) {
	var pages [][]byte
	page := []byte{}
	for len(blob) > 0 {
		n, w := binary.Uvarint(blob)
		if w <= 0 || uint64(len(blob)-w) < n {
			return nil, fmt.Errorf("truncated page framing")
		}
		if n == 0 {
			pages = append(pages, page)
			page = []byte{}
		} else {
			page = append(page, blob[w:w+int(n)]...)
		}
		blob = blob[w+int(n):]
	}
	if len(page) > 0 {
		return nil, fmt.Errorf("truncated page framing: the last page has no end")
	}
	return pages, nil
}

func newWriteID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
