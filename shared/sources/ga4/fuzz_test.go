package ga4

import (
	"testing"
)

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
