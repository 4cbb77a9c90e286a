package sources

import (
	"testing"
)

// FuzzDecodeReport feeds YouTube Analytics report bodies to the decoder: it never panics, and
// a decoded report has as many cells in every row as it has columns.
func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"kind":"youtubeAnalytics#resultTable","columnHeaders":[{"name":"day","columnType":"DIMENSION","dataType":"STRING"},{"name":"views","columnType":"METRIC","dataType":"INTEGER"}],"rows":[["2024-01-01",12]]}`))
	f.Add([]byte(`{"columnHeaders":[{"name":"revenue","dataType":"FLOAT"}],"rows":[[1.5],[null]]}`))
	f.Add([]byte(`{"columnHeaders":[{"name":"views","dataType":"INTEGER"}],"rows":[[1e400],["x"],[1,2]]}`))
	f.Add([]byte(`{"rows":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cols, rows, err := decodeReport(raw)
		if err != nil {
			return
		}
		for i, r := range rows {
			if len(r) != len(cols) {
				t.Errorf("row %d has %d cells for %d columns", i, len(r), len(cols))
			}
		}
	})
}

// FuzzHTTPJSONPage feeds http_json page bodies through the page decoder, the records
// extractor and every pager: none panics, records are objects, and a pager never returns the
// same cursor or link twice.
func FuzzHTTPJSONPage(f *testing.F) {
	f.Add([]byte(`{"data":{"items":[{"id":1},{"id":2}]},"paging":{"next":"/items?page=2","cursor":"c2"}}`), "data.items", "paging.next")
	f.Add([]byte(`[{"a":1}]`), "", "next")
	f.Add([]byte(`{"items":[1,2]}`), "items", "items.0")
	f.Add([]byte(`{"items":null,"next":12}`), "items", "next")
	f.Add([]byte(`{"a":{"b":[{"c":"http://[::1"}]}}`), "a.b", "a.b.0.c")
	f.Add([]byte(`{} {}`), "x", "y")
	f.Fuzz(func(t *testing.T, body []byte, recordsPath, nextPath string) {
		doc, err := decodeJSON(body)
		if err != nil {
			return
		}
		records, err := extractRecords(doc, recordsPath)
		if err == nil {
			for i, r := range records {
				if r == nil {
					t.Errorf("record %d is nil", i)
				}
			}
		}
		if nextPath == "" {
			return
		}
		const base = "https://api.example.com/items"
		for _, p := range []Pagination{
			{Type: PaginationNextLink, NextPath: nextPath},
			{Type: PaginationCursor, CursorPath: nextPath, CursorParam: "cursor"},
			{Type: PaginationPage, PageParam: "page"},
		} {
			pg, err := newPager(HTTPJSONRequest{URL: base, Pagination: p})
			if err != nil {
				t.Fatalf("newPager(%+v) = %v", p, err)
			}
			cur := pg.first()
			seen := map[string]bool{}
			for range 3 {
				next, err := pg.next(cur, doc, len(records))
				if err != nil || next == "" {
					break
				}
				if p.Type != PaginationPage && seen[next] {
					t.Errorf("%s pager returned %s twice", p.Type, next)
				}
				seen[next] = true
				cur = next
			}
		}
	})
}

// FuzzGoogleReason feeds error bodies to the Google error decoder: it never panics.
func FuzzGoogleReason(f *testing.F) {
	f.Add([]byte(`{"error":{"code":403,"message":"Quota exceeded","errors":[{"reason":"quotaExceeded"}],"status":"PERMISSION_DENIED"}}`))
	f.Add([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		googleReason(body)
	})
}

// FuzzGA4Pager feeds runReport pages to the GA4 pager: it never panics, the offset only grows
// and every record carries its flags.
func FuzzGA4Pager(f *testing.F) {
	f.Add([]byte(`{"dimensionHeaders":[{"name":"date"}],"metricHeaders":[{"name":"activeUsers","type":"TYPE_INTEGER"}],"rows":[{"dimensionValues":[{"value":"20240101"}],"metricValues":[{"value":"12"}]}],"rowCount":2,"metadata":{"samplingMetadatas":[{"samplesReadCount":"5","samplingSpaceSize":"10"}]},"propertyQuota":{"tokensPerHour":{"consumed":1,"remaining":39999}}}`),
		[]byte(`{"dimensionHeaders":[{"name":"date"}],"metricHeaders":[{"name":"activeUsers","type":"TYPE_INTEGER"}],"rows":[{"dimensionValues":[{"value":"(other)"}],"metricValues":[{"value":"3"}]}],"rowCount":2}`))
	f.Add([]byte(`{"metricHeaders":[{"name":"r","type":"TYPE_FLOAT"}],"rows":[{"metricValues":[{"value":"NaN"}]}],"rowCount":-1}`), []byte(`{}`))
	f.Add([]byte(`{"rows":[{"dimensionValues":[{"value":"x"}]}]}`), []byte(`[`))
	f.Add([]byte(`{"rowCount":"5"}`), []byte(`{"rows":[]}`))
	f.Fuzz(func(t *testing.T, page1, page2 []byte) {
		var p GA4Pager
		last := 0
		for _, page := range [][]byte{page1, page2} {
			if p.Done() {
				break
			}
			if err := p.Add(page); err != nil {
				return
			}
			if p.Offset() < last {
				t.Errorf("offset went from %d to %d", last, p.Offset())
			}
			last = p.Offset()
		}
		for i, r := range p.Records {
			if _, ok := r["sampled"].(bool); !ok {
				t.Errorf("record %d has no sampled flag", i)
			}
			if _, ok := r["other_row"].(bool); !ok {
				t.Errorf("record %d has no other_row flag", i)
			}
		}
	})
}
