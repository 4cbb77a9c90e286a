package youtube

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
