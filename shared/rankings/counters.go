package rankings

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
)

// Counter documents.
//
// A bucket's counts are spread over documents that each have one writer, a Store: the id is
// {ranking}.{size}.{bucket}.{shard}.{writer}.{generation}. Being the only writer, a Store knows
// every field it has put in its documents without reading them, so it keeps each within a
// budget by construction: a key joins the series' current document only if the document stays
// within counterDocBytes and counterDocEntries, and a commit puts at most counterDocTransforms
// increments in one document; otherwise the key goes to the series' next generation. A reader
// sums every document of the window by field (Top), so where a key's count lies never matters.
//
// Worst case, by Firestore's size rules (https://cloud.google.com/firestore/docs/storage-size):
//
//	name       "rankings_counts" 16 + id ("search_terms.1m.<20 digits>.<3 digits>.<16 hex>.
//	           <20 digits>", at most 80) 81 + 16                                  =    113
//	fixed      ranking 8+13, size 5+3, bucket 7+8, expires_at 11+8, c 2+32,
//	           k 2+32, and 32 for the document                                     =    163
//	short key  c."=key" (key ≤ 100 bytes of UTF-8): 102 + 8 (an integer)           ≤    110
//	long key   c."#<64 hex of SHA-256>" 66 + 8, and its label k."#..." 66 + the key
//	           (≤ 64 KiB) 65,537                                                   ≤ 65,677
//
// A field joins only while the document stays at most counterDocBytes = 524,288 bytes, half
// of the 1,048,576 limit, and a new document always takes the largest field (113 + 163 +
// 65,677 = 65,953). Index entries, should Terraform's exemption of c and k be missing (the
// emulator indexes every field): an ascending and a descending entry for each of at most
// counterDocEntries = 8,000 fields of c and k and 6 top-level fields, and 1 composite entry:
// 2 × 8,006 + 1 = 16,013 < 40,000. Their sizes (name 113 + path ≤ 206 + value 8 + 32 for a
// count; a label is indexed up to 1,500 bytes, but the bytes budget keeps such labels few)
// add up to about 16,013 × 359 ≈ 5.8 MB at most, under the 8 MiB of a document's entries.
// Field names are at most 101 bytes, and a field path ("c." and the name in backquotes, each
// backquote or backslash escaped) at most 2 + 2 + 2 × 101 = 206 < 1,500. A commit puts at
// most counterDocTransforms = 400 increments in one document, under the 500 transforms a
// commit may make on one document.
const (
	counterDocBytes      = 512 << 10
	counterDocEntries    = 8000
	counterDocTransforms = 400 // of maxDocTransforms (500) per document per commit
	// counterTrackedFields bounds the fields a Store remembers over all its documents (about
	// 100 bytes each); past it, the least recently used series start new documents.
	counterTrackedFields = 200_000
	// maxKeyField is the longest key stored as its own field name: the emulator rewrites and
	// indexes a counter document whole on every increment, so a label beside every count
	// doubled what each commit rewrote; longer keys (rare: long search queries, odd item ids)
	// are a digest with a label.
	maxKeyField = 100
)

// countField is the field of the c map that counts key: "=" and the key itself when it is
// short valid UTF-8 (the "=" keeps it apart from digests and from Firestore's reserved
// __names__), else "#" and the key's SHA-256, which then needs the key as a label in the k map
// (labelled). The whole digest, not a prefix: two keys never share a count.
func countField(key string) (field string, labelled bool) {
	if len(key) <= maxKeyField && utf8.ValidString(key) {
		return "=" + key, false
	}
	h := sha256.Sum256([]byte(key))
	return "#" + hex.EncodeToString(h[:]), true
}

// seriesKey names the documents of one bucket that one shard of a Store writes.
type seriesKey struct {
	ranking Ranking
	size    time.Duration
	bucket  int64 // Unix seconds
	shard   int
}

// counterDoc is what a Store knows of one of its counter documents.
type counterDoc struct {
	id      string
	fields  map[string]bool // the c map's fields, each true once its label is known written
	entries int             // fields of c and k
	bytes   int             // storage size, an upper bound
	used    int64
}

// counterDocs tracks a Store's counter documents; its mutex guards everything in it.
type counterDocs struct {
	mu      sync.Mutex
	coll    string
	writer  string
	gen     int64
	series  map[seriesKey]*counterDoc
	tracked int
	tick    int64
}

// newWriterID names a Store's counter documents: 80 random bits, so that no two Stores, here
// or on another instance, ever share a document.
func newWriterID() string {
	return rand.Text()[:16]
}

func newCounterDocs(coll, writer string) *counterDocs {
	return &counterDocs{coll: coll, writer: writer, series: map[seriesKey]*counterDoc{}}
}

// counterWrite is one counter document's part of a commit.
type counterWrite struct {
	s      seriesKey
	doc    *counterDoc
	c, k   map[string]any
	labels []string // fields whose label this write carries
	bytes  int      // the request bytes it takes, an upper bound
}

// plan places a commit's count deltas (by series, then key) in documents, reserving their
// fields: a plan that is not committed only leaves documents emptier than accounted.
func (d *counterDocs) plan(deltas map[seriesKey]map[string]int64) []*counterWrite {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tick++
	var out []*counterWrite
	for _, s := range slices.SortedFunc(maps.Keys(deltas), compareSeries) {
		var w *counterWrite
		for _, key := range slices.Sorted(maps.Keys(deltas[s])) {
			delta := deltas[s][key]
			if delta == 0 {
				continue
			}
			f, labelled := countField(key)
			entries, bytes := 1, stringSize(f)+8
			if labelled {
				entries, bytes = 2, bytes+stringSize(f)+stringSize(key)
			}
			doc := d.current(s)
			_, has := doc.fields[f]
			if (w != nil && w.doc == doc && len(w.c) >= counterDocTransforms) ||
				(!has && (doc.entries+entries > counterDocEntries || doc.bytes+bytes > counterDocBytes)) {
				doc, has = d.next(s), false
			}
			if !has {
				doc.fields[f] = false
				doc.entries += entries
				doc.bytes += bytes
				d.tracked++
			}
			if w == nil || w.doc != doc {
				w = &counterWrite{s: s, doc: doc, c: map[string]any{}, k: map[string]any{}, bytes: 1024 + len(doc.id)}
				out = append(out, w)
			}
			w.c[f] = firestore.Increment(delta)
			w.bytes += 3*len(f) + 32
			if labelled && !doc.fields[f] {
				w.k[f] = key
				w.labels = append(w.labels, f)
				w.bytes += 3*len(f) + len(key) + 32
			}
		}
	}
	d.evict()
	return out
}

func compareSeries(a, b seriesKey) int {
	return cmp.Or(cmp.Compare(a.ranking, b.ranking), cmp.Compare(a.size, b.size), cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.shard, b.shard))
}

// current returns the series' document being filled, starting one if there is none.
func (d *counterDocs) current(s seriesKey) *counterDoc {
	doc := d.series[s]
	if doc == nil {
		doc = d.next(s)
	}
	doc.used = d.tick
	return doc
}

// next starts the series' next document. Generations count up per Store, so an id is never
// used twice, even for a series forgotten and met again.
func (d *counterDocs) next(s seriesKey) *counterDoc {
	d.gen++
	id := fmt.Sprintf("%s.%s.%d.%d.%s.%d", s.ranking, sizeName(s.size), s.bucket, s.shard, d.writer, d.gen)
	doc := &counterDoc{id: id, fields: map[string]bool{}, used: d.tick}
	doc.bytes = docNameSize(d.coll, id) + counterFixedBytes(s)
	if old := d.series[s]; old != nil {
		d.tracked -= len(old.fields)
	}
	d.series[s] = doc
	return doc
}

// counterFixedBytes is the storage size of a counter document's fields other than the counts
// and labels, and the document's own 32 bytes.
func counterFixedBytes(s seriesKey) int {
	return stringSize("ranking") + stringSize(string(s.ranking)) + stringSize("size") + stringSize(sizeName(s.size)) +
		stringSize("bucket") + 8 + stringSize("expires_at") + 8 + stringSize("c") + 32 + stringSize("k") + 32 + 32
}

// evict forgets the least recently used series while more than counterTrackedFields fields are
// remembered; a forgotten series starts a new document when it is written again.
func (d *counterDocs) evict() {
	if d.tracked <= counterTrackedFields {
		return
	}
	byUse := slices.SortedFunc(maps.Keys(d.series), func(a, b seriesKey) int { return cmp.Compare(d.series[a].used, d.series[b].used) })
	for _, s := range byUse {
		if d.tracked <= counterTrackedFields*3/4 {
			return
		}
		d.tracked -= len(d.series[s].fields)
		delete(d.series, s)
	}
}

// confirm records that a commit of ws landed: their labels need not be written again.
func (d *counterDocs) confirm(ws []*counterWrite) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range ws {
		for _, f := range w.labels {
			if _, ok := w.doc.fields[f]; ok {
				w.doc.fields[f] = true
			}
		}
	}
}

// set adds w to batch wb.
func (w *counterWrite) set(c *firestore.Client, coll string, wb *firestore.WriteBatch) {
	bucket := time.Unix(w.s.bucket, 0).UTC()
	doc := map[string]any{
		"ranking": string(w.s.ranking), "size": sizeName(w.s.size), "bucket": bucket, "c": w.c,
		// Counts outlive the longest window by a day, then Firestore's TTL deletes them.
		"expires_at": bucket.Add(48 * time.Hour),
	}
	if len(w.k) > 0 {
		doc["k"] = w.k
	}
	wb.Set(c.Collection(coll).Doc(w.doc.id), doc, firestore.MergeAll)
}

// keyOf is the key a field of a counter document's c map counts: its label in the document's
// k map (labels; a digest of this version or a hash of an earlier one), else the key after
// "=". ok is false for a digest labelled in another document only.
func keyOf(f string, labels map[string]string) (key string, ok bool) {
	if key, ok = labels[f]; ok {
		return key, true
	}
	return strings.CutPrefix(f, "=")
}

func sizeName(d time.Duration) string {
	switch d {
	case time.Minute:
		return "1m"
	case 5 * time.Minute:
		return "5m"
	case time.Hour:
		return "1h"
	}
	return d.String()
}
