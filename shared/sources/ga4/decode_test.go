package ga4

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// decodePage runs the streaming decoder over body, read through wrap, and returns the records
// handed on.
func decodePage(body []byte, limit int, wrap func(io.Reader) io.Reader) ([]map[string]any, ga4Page, error) {
	var recs []map[string]any
	d := newGA4PageDecoder(wrap(bytes.NewReader(body)), false, limit, func(_ int, b []map[string]any) error {
		recs = append(recs, b...)
		return nil
	})
	page, err := d.decode()
	return recs, page, err
}

func whole(r io.Reader) io.Reader { return r }

const (
	ga4Headers = `"dimensionHeaders":[{"name":"date"}],"metricHeaders":[{"name":"activeUsers","type":"TYPE_INTEGER"}]`
	ga4Rows    = `"rows":[{"dimensionValues":[{"value":"20240101"}],"metricValues":[{"value":"12"}]},{"dimensionValues":[{"value":"(other)"}],"metricValues":[{"value":"3"}]}]`
	ga4Tail    = `"rowCount":2,"metadata":{"samplingMetadatas":[{"samplesReadCount":"5","samplingSpaceSize":"10"}]},"propertyQuota":{"tokensPerHour":{"consumed":1,"remaining":39999}},"kind":"analyticsData#runReport"`
)

// The decoder reads the fields in any order (headers after the rows included), skips the ones
// it has no use for, and reads rowCount, metadata and propertyQuota wherever they are.
func TestGA4PageDecoderFieldOrder(t *testing.T) {
	want := []map[string]any{
		{"date": "20240101", "activeUsers": int64(12), "sampled": false, "other_row": false},
		{"date": "(other)", "activeUsers": int64(3), "sampled": false, "other_row": true},
	}
	for name, body := range map[string]string{
		"documented order":    `{` + ga4Headers + `,` + ga4Rows + `,` + ga4Tail + `}`,
		"tail first":          `{` + ga4Tail + `,` + ga4Headers + `,` + ga4Rows + `}`,
		"rows before headers": `{` + ga4Rows + `,` + ga4Tail + `,` + ga4Headers + `}`,
		"totals to skip":      `{` + ga4Headers + `,"totals":[{"dimensionValues":[{"value":"RESERVED_TOTAL"}],"metricValues":[{"value":"15"}]}],` + ga4Rows + `,` + ga4Tail + `}`,
	} {
		for rname, wrap := range map[string]func(io.Reader) io.Reader{"whole": whole, "one byte at a time": iotest.OneByteReader} {
			recs, page, err := decodePage([]byte(body), 10, wrap)
			if err != nil {
				t.Errorf("%s, %s: decode() error = %v", name, rname, err)
				continue
			}
			if diff := cmp.Diff(want, recs); diff != "" {
				t.Errorf("%s, %s: records (-want +got):\n%s", name, rname, diff)
			}
			if page.rows != 2 || page.rowCount == nil || *page.rowCount != 2 || !page.sampled || page.quota == nil || page.quota.TokensPerHour.Remaining != 39999 {
				t.Errorf("%s, %s: page = %+v, want 2 rows, rowCount 2, sampled, 39999 tokens left", name, rname, page)
			}
		}
	}
}

// Malformed and truncated bodies are errors naming what is wrong.
func TestGA4PageDecoderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		limit            int
	}{
		{"truncated in a row", `{` + ga4Headers + `,"rows":[{"dimensionValues":[{"value":"2024`, "unexpected EOF", 10},
		{"truncated after the rows", `{` + ga4Headers + `,` + ga4Rows, "EOF", 10},
		{"not an object", `[1,2]`, "where { was expected", 10},
		{"rows not an array", `{"rows":{}}`, "not an array", 10},
		{"field twice", `{` + ga4Headers + `,` + ga4Rows + `,` + ga4Rows + `}`, `field "rows" appears twice`, 10},
		{"data after the object", `{` + ga4Headers + `} {}`, "data after the response object", 10},
		{"negative rowCount", `{"rowCount":-1}`, "rowCount -1 is negative", 10},
		{"values for no headers", `{"rows":[{"dimensionValues":[{"value":"x"}]}]}`, "row 0 has 1+0 values for 0+0 headers", 10},
		{"bad integer", `{` + ga4Headers + `,"rows":[{"dimensionValues":[{"value":"x"}],"metricValues":[{"value":"1.5"}]}]}`, "row 0 metric activeUsers", 10},
		{"more rows than asked", `{` + ga4Headers + `,` + ga4Rows + `}`, "more rows than the 1 asked for", 1},
	} {
		_, _, err := decodePage([]byte(tc.body), tc.limit, whole)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: decode() error = %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// rowOf is a one-dimension row of exactly size bytes in the body.
func rowOf(size int) string {
	pre, post := `{"dimensionValues":[{"value":"`, `"}],"metricValues":[{"value":"1"}]}`
	return pre + strings.Repeat("a", size-len(pre)-len(post)) + post
}

// A row of exactly GA4MaxRowBytes is read; one byte more fails the page.
func TestGA4PageDecoderRowBound(t *testing.T) {
	for _, tc := range []struct {
		size int
		ok   bool
	}{{GA4MaxRowBytes, true}, {GA4MaxRowBytes + 1, false}} {
		body := `{` + ga4Headers + `,"rows":[` + rowOf(tc.size) + `,` + rowOf(100) + `]}`
		recs, _, err := decodePage([]byte(body), 10, whole)
		switch {
		case tc.ok && (err != nil || len(recs) != 2):
			t.Errorf("a %d-byte row: %d records, error %v; want 2, nil", tc.size, len(recs), err)
		case !tc.ok && !errors.Is(err, errGA4RowTooLarge):
			t.Errorf("a %d-byte row: error %v, want %v", tc.size, err, errGA4RowTooLarge)
		}
	}
	// Any other value is held to about ga4MaxValueBytes while it is read.
	body := `{"kind":"` + strings.Repeat("k", ga4MaxValueBytes+4096) + `"}`
	if _, _, err := decodePage([]byte(body), 10, whole); !errors.Is(err, errGA4RowTooLarge) {
		t.Errorf("a %d-byte kind: error %v, want %v", ga4MaxValueBytes, err, errGA4RowTooLarge)
	}
}

// Records leave in batches of at most GA4BatchRows, and of about GA4BatchBytes when rows are
// wide.
func TestGA4PageDecoderBatches(t *testing.T) {
	for _, tc := range []struct {
		rows, size int
		want       []int
	}{
		{GA4BatchRows*2 + 1, 100, []int{GA4BatchRows, GA4BatchRows, 1}},
		{10, GA4BatchBytes / 4, []int{4, 4, 2}},
	} {
		parts := make([]string, tc.rows)
		for i := range parts {
			parts[i] = rowOf(tc.size)
		}
		body := `{` + ga4Headers + `,"rows":[` + strings.Join(parts, ",") + `]}`
		var sizes []int
		d := newGA4PageDecoder(strings.NewReader(body), false, tc.rows, func(_ int, b []map[string]any) error {
			sizes = append(sizes, len(b))
			return nil
		})
		if _, err := d.decode(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, sizes); diff != "" {
			t.Errorf("%d rows of %d bytes: batch sizes (-want +got):\n%s", tc.rows, tc.size, diff)
		}
	}
}

// FuzzGA4PageDecoder feeds runReport bodies to the streaming decoder: it never panics, reads
// the same whatever the pieces the body arrives in, hands on exactly the rows it counted, and
// what it accepts the buffered pager (GA4Pager) reads to the same records.
func FuzzGA4PageDecoder(f *testing.F) {
	f.Add([]byte(`{` + ga4Headers + `,` + ga4Rows + `,` + ga4Tail + `}`))
	f.Add([]byte(`{` + ga4Rows + `,` + ga4Headers + `}`))
	f.Add([]byte(`{"metricHeaders":[{"name":"r","type":"TYPE_FLOAT"}],"rows":[{"metricValues":[{"value":"NaN"}]}],"rowCount":-1}`))
	f.Add([]byte(`{"rows":null,"totals":[[{}]],"kind":"x"}`))
	f.Add([]byte(`{"ROWS":[],"rowCount":"5"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, page, err := decodePage(body, 1000, whole)
		recs2, page2, err2 := decodePage(body, 1000, iotest.HalfReader)
		if (err == nil) != (err2 == nil) || !cmp.Equal(recs, recs2) || !cmp.Equal(page, page2, cmp.AllowUnexported(ga4Page{})) {
			t.Fatalf("whole body: %v, %d records; in halves: %v, %d records", err, len(recs), err2, len(recs2))
		}
		if err != nil {
			return
		}
		if len(recs) != page.rows {
			t.Errorf("%d records handed on for %d rows", len(recs), page.rows)
		}
		if !exactTopLevelKeys(body) {
			return // encoding/json matches keys case-insensitively; the API's are exact
		}
		var p GA4Pager
		if err := p.Add(body); err != nil {
			t.Fatalf("the streaming decoder accepted what GA4Pager refuses (%v): %s", err, body)
		}
		for _, r := range p.Records {
			r["sampled"] = false // the stream's records carry the caller's flag
		}
		if diff := cmp.Diff(p.Records, recs, cmp.Comparer(func(a, b float64) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
			t.Errorf("records (-GA4Pager +stream):\n%s", diff)
		}
	})
}

// exactTopLevelKeys reports whether body is an object none of whose keys is a known field in
// another case (a spelling the API never sends).
func exactTopLevelKeys(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	for k := range m {
		for _, f := range []string{"dimensionHeaders", "metricHeaders", "rows", "rowCount", "metadata", "propertyQuota"} {
			if k != f && strings.EqualFold(k, f) {
				return false
			}
		}
	}
	return true
}
