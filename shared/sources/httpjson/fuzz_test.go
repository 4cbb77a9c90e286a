package httpjson

import (
	"testing"
)

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
