package rankings

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCountField(t *testing.T) {
	long := strings.Repeat("k", maxKeyField+1)
	for _, tc := range []struct {
		key      string
		field    string
		labelled bool
	}{
		{"go", "=go", false},
		{"a.b `c`", "=a.b `c`", false},
		{strings.Repeat("k", maxKeyField), "=" + strings.Repeat("k", maxKeyField), false},
		{long, "#dec651a2cfdb388ffb5e01b69d4d79971b0a7af493a0865bb40784c545621354", true},
		{long + "x", "", true}, // another digest: never the same field
		{"\xff", "#a8100ae6aa1940d0b663bb31cd466142ebbdbd5187131b92d93818987832eb89", true},
	} {
		f, labelled := countField(tc.key)
		if labelled != tc.labelled || (tc.field != "" && f != tc.field) || len(f) > maxKeyField+1 {
			t.Errorf("countField(%.20q…) = %q, %v; want %q, %v", tc.key, f, labelled, tc.field, tc.labelled)
		}
	}
	if a, _ := countField(long); a == func() string { b, _ := countField(long + "x"); return b }() {
		t.Errorf("two long keys share the field %q", a)
	}
}

// TestCounterDocumentsStayWithinTheirBudget places counts as commits of one series would and
// checks every document's accounted size, fields and increments per commit, and that a key's
// label is written with its first count in a document and not again.
func TestCounterDocumentsStayWithinTheirBudget(t *testing.T) {
	series := seriesKey{ranking: SearchTerms, size: time.Minute, bucket: t0.Unix()}
	for _, tc := range []struct {
		name    string
		commits int
		keys    func(commit int) []string
		// want: documents, and labels written over all commits
		docs, labels int
	}{
		{"a few keys, many commits", 50, func(int) []string { return []string{"a", "b", strings.Repeat("long", 30)} }, 1, 1},
		{"9,000 short keys in one commit", 1, func(int) []string { return keys("short", 9000, 20) }, 23, 0},
		{"many short keys over commits", 30, func(c int) []string { return keys(fmt.Sprint("c", c), 300, 90) }, 2, 0},
		// The second time, each key lands in a document it was not in: its label goes with it.
		{"18 keys of 64 KiB, twice", 2, func(int) []string { return keys("x", 18, maxKeyBytes) }, 6, 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newCounterDocs(DefaultCollections.Counts, "writer")
			docs := map[string]*counterDoc{}
			labels := 0
			for c := range tc.commits {
				deltas := map[string]int64{}
				for _, k := range tc.keys(c) {
					deltas[k]++
				}
				plan := d.plan(map[seriesKey]map[string]int64{series: deltas})
				for _, w := range plan {
					docs[w.doc.id] = w.doc
					labels += len(w.labels)
					if len(w.c) > counterDocTransforms || w.bytes > commitBytesBudget {
						t.Errorf("commit %d: %d increments, %d bytes to %s", c, len(w.c), w.bytes, w.doc.id)
					}
				}
				d.confirm(plan)
			}
			for id, doc := range docs {
				if doc.bytes > counterDocBytes || doc.entries > counterDocEntries {
					t.Errorf("%s: %d bytes, %d fields; want at most %d, %d", id, doc.bytes, doc.entries, counterDocBytes, counterDocEntries)
				}
			}
			if diff := cmp.Diff([]int{tc.docs, tc.labels}, []int{len(docs), labels}); diff != "" {
				t.Errorf("documents, labels written (-want +got):\n%s", diff)
			}
		})
	}
}

// keys returns n distinct keys of size bytes.
func keys(prefix string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		k := fmt.Sprintf("%s-%d-", prefix, i)
		out[i] = k + strings.Repeat("k", max(size-len(k), 0))
	}
	return out
}
