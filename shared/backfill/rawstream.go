package backfill

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RawWriter stores a task's raw pages as they arrive, in the documents StoreRaw writes (LoadRaw
// reads either), holding at most two parts in memory whatever the task's size: part 0, which
// names the write and is written last, and the part being filled. A page may arrive in pieces
// (Write, EndPage), so a body being read is stored without being held whole; its parts are
// marked chunked.
type RawWriter struct {
	s          *Store
	job, shard string
	write      string
	now        time.Time
	head, cur  []byte
	parts      int // parts written or held: part 0 and parts 1..parts-1
	pages      int
}

// NewRawWriter starts a streamed write of a shard's raw pages; Close ends it.
func (s *Store) NewRawWriter(job, shard string) *RawWriter {
	return &RawWriter{s: s, job: job, shard: shard, write: newWriteID(), now: s.now().UTC(), parts: 1}
}

// Add appends one page, writing every part that fills up.
func (r *RawWriter) Add(ctx context.Context, page []byte) error {
	if err := r.Write(ctx, page); err != nil {
		return err
	}
	return r.EndPage(ctx)
}

// Write appends p to the page being written: a page may arrive in any number of pieces, so a
// streamed body is kept without being held whole. Pieces are framed by their length, and
// EndPage's empty piece ends the page (LoadRaw joins them).
func (r *RawWriter) Write(ctx context.Context, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := r.append(ctx, binary.AppendUvarint(nil, uint64(len(p)))); err != nil {
		return err
	}
	return r.append(ctx, p)
}

// EndPage ends the page being written.
func (r *RawWriter) EndPage(ctx context.Context) error {
	r.pages++
	return r.append(ctx, []byte{0})
}

// append adds b to the parts, writing every part that fills up.
func (r *RawWriter) append(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		if len(r.head) < rawPartSize && r.parts == 1 {
			n := min(rawPartSize-len(r.head), len(b))
			r.head = append(r.head, b[:n]...)
			b = b[n:]
			continue
		}
		if r.cur == nil {
			r.cur = make([]byte, 0, rawPartSize)
		}
		n := min(rawPartSize-len(r.cur), len(b))
		r.cur = append(r.cur, b[:n]...)
		b = b[n:]
		if len(r.cur) == rawPartSize {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the part being filled as part r.parts.
func (r *RawWriter) flush(ctx context.Context) error {
	if len(r.cur) == 0 {
		return nil
	}
	k := r.parts
	if _, err := r.s.rawRef(r.job, r.shard, k).Set(ctx, rawDoc{Job: r.job, Shard: r.shard, Part: k, Write: r.write,
		Data: r.cur, StoredAt: r.now}); err != nil {
		return fmt.Errorf("storing raw part %d of shard %q of backfill job %s: %w", k, r.shard, r.job, err)
	}
	r.parts++
	r.cur = r.cur[:0]
	return nil
}

// addHead adds part 0 to b: the outcome's commit of RecordSuccessWithRaw. It deletes no stale
// part: in that commit a part 0 can only exist if the shard already succeeded, and then the
// commit's precondition fails; parts an uncommitted attempt left beyond this write's count are
// never read (LoadRaw reads Parts parts, each of the write part 0 names).
func (r *RawWriter) addHead(b *firestore.WriteBatch) {
	b.Set(r.s.rawRef(r.job, r.shard, 0), rawDoc{Job: r.job, Shard: r.shard, Part: 0, Parts: r.parts, Pages: r.pages,
		Write: r.write, Data: r.head, StoredAt: r.now, Chunked: true})
}

// Close writes the last parts, then part 0, which makes the write the one LoadRaw reads, and
// deletes the parts an earlier, bigger write left.
func (r *RawWriter) Close(ctx context.Context) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	oldParts := 0
	snap, err := r.s.rawRef(r.job, r.shard, 0).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return fmt.Errorf("reading raw results of shard %q of backfill job %s: %w", r.shard, r.job, err)
	default:
		var old rawDoc
		if err := snap.DataTo(&old); err == nil {
			oldParts = old.Parts
		}
	}
	b := r.s.client.Batch()
	b.Set(r.s.rawRef(r.job, r.shard, 0), rawDoc{Job: r.job, Shard: r.shard, Part: 0, Parts: r.parts, Pages: r.pages,
		Write: r.write, Data: r.head, StoredAt: r.now, Chunked: true})
	for k := r.parts; k < oldParts; k++ {
		b.Delete(r.s.rawRef(r.job, r.shard, k))
	}
	if _, err := b.Commit(ctx); err != nil {
		return fmt.Errorf("storing raw results of shard %q of backfill job %s: %w", r.shard, r.job, err)
	}
	return nil
}
