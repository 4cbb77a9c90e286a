package ga4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// GA4OtherValue is the dimension value GA4 puts in the row that gathers what a high-cardinality
// report left out ("(other)" row): its metrics are real but its dimension is not.
const GA4OtherValue = "(other)"

// ga4Response is the part of a RunReportResponse the pager reads.
type ga4Response struct {
	DimensionHeaders []ga4DimensionHeader `json:"dimensionHeaders"`
	MetricHeaders    []ga4MetricHeader    `json:"metricHeaders"`
	Rows             []ga4Row             `json:"rows"`
	RowCount         *int64               `json:"rowCount"`
	Metadata         ga4Metadata          `json:"metadata"`
	PropertyQuota    *ga4PropertyQuota    `json:"propertyQuota"`
}

type ga4DimensionHeader struct {
	Name string `json:"name"`
}

type ga4MetricHeader struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type ga4Value struct {
	Value string `json:"value"`
}

type ga4Row struct {
	DimensionValues []ga4Value `json:"dimensionValues"`
	MetricValues    []ga4Value `json:"metricValues"`
}

type ga4Metadata struct {
	SamplingMetadatas []struct {
		SamplesReadCount  json.Number `json:"samplesReadCount"`
		SamplingSpaceSize json.Number `json:"samplingSpaceSize"`
	} `json:"samplingMetadatas"`
	DataLossFromOtherRow bool `json:"dataLossFromOtherRow"`
}

type ga4PropertyQuota struct {
	TokensPerDay                          QuotaFigure `json:"tokensPerDay"`
	TokensPerHour                         QuotaFigure `json:"tokensPerHour"`
	TokensPerProjectPerHour               QuotaFigure `json:"tokensPerProjectPerHour"`
	ConcurrentRequests                    QuotaFigure `json:"concurrentRequests"`
	ServerErrorsPerProjectPerHour         QuotaFigure `json:"serverErrorsPerProjectPerHour"`
	PotentiallyThresholdedRequestsPerHour QuotaFigure `json:"potentiallyThresholdedRequestsPerHour"`
}

// GA4Pager reads a report's pages in order and says which offset to ask for next: the first
// page's rowCount is the report's size, each page's rows move the offset on, and a page with
// no rows ends the report (the API never sends an empty page before the end).
type GA4Pager struct {
	// Pages are the bodies added, in order.
	Pages [][]byte
	// Records are the rows: dimension values as strings, metrics typed by their header (int64
	// for TYPE_INTEGER, float64 otherwise), with "sampled" and "other_row" flags.
	Records []map[string]any
	// Quota is the pages' propertyQuota: consumed summed, remaining from the last page.
	Quota *GA4Quota

	rowCount int64
	done     bool
}

// Offset is the offset of the next request.
func (p *GA4Pager) Offset() int { return len(p.Records) }

// Done reports whether the report is read whole.
func (p *GA4Pager) Done() bool { return p.done }

// Add decodes one page; the page must answer a request at Offset.
func (p *GA4Pager) Add(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var r ga4Response
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("decoding ga4 report page %d: %w", len(p.Pages), err)
	}
	if len(p.Pages) == 0 && r.RowCount != nil {
		p.rowCount = *r.RowCount
	}
	if r.RowCount != nil && *r.RowCount < 0 {
		return fmt.Errorf("decoding ga4 report page %d: rowCount %d is negative", len(p.Pages), *r.RowCount)
	}
	sampled := len(r.Metadata.SamplingMetadatas) > 0
	for i, row := range r.Rows {
		rec, err := ga4Record(r.DimensionHeaders, r.MetricHeaders, row, sampled)
		if err != nil {
			return fmt.Errorf("decoding ga4 report page %d: row %d%w", len(p.Pages), i, err)
		}
		p.Records = append(p.Records, rec)
	}
	p.Quota = addQuota(p.Quota, r.PropertyQuota)
	p.Pages = append(p.Pages, body)
	if len(r.Rows) == 0 || int64(len(p.Records)) >= p.rowCount {
		p.done = true
	}
	return nil
}

// ga4Record types one row by its headers: dimension values as strings, metrics by their type,
// with the "sampled" and "other_row" flags. Its errors start with what follows "row N".
func ga4Record(dims []ga4DimensionHeader, mets []ga4MetricHeader, row ga4Row, sampled bool) (map[string]any, error) {
	if len(row.DimensionValues) != len(dims) || len(row.MetricValues) != len(mets) {
		return nil, fmt.Errorf(" has %d+%d values for %d+%d headers", len(row.DimensionValues), len(row.MetricValues), len(dims), len(mets))
	}
	rec := make(map[string]any, len(row.DimensionValues)+len(row.MetricValues)+2)
	other := false
	for j, v := range row.DimensionValues {
		rec[dims[j].Name] = v.Value
		other = other || v.Value == GA4OtherValue
	}
	for j, v := range row.MetricValues {
		typed, err := ga4Metric(v.Value, mets[j].Type)
		if err != nil {
			return nil, fmt.Errorf(" metric %s: %w", mets[j].Name, err)
		}
		rec[mets[j].Name] = typed
	}
	rec["sampled"] = sampled
	rec["other_row"] = other
	return rec, nil
}

// addQuota adds a page's propertyQuota to the figures so far: consumed summed, remaining the
// page's. A page without one leaves them as they are.
func addQuota(sum *GA4Quota, q *ga4PropertyQuota) *GA4Quota {
	if q == nil {
		return sum
	}
	if sum == nil {
		sum = &GA4Quota{}
	}
	add := func(dst *QuotaFigure, src QuotaFigure) { dst.Consumed += src.Consumed; dst.Remaining = src.Remaining }
	add(&sum.TokensPerDay, q.TokensPerDay)
	add(&sum.TokensPerHour, q.TokensPerHour)
	add(&sum.TokensPerProjectPerHour, q.TokensPerProjectPerHour)
	add(&sum.ConcurrentRequests, q.ConcurrentRequests)
	add(&sum.ServerErrorsPerProjectPerHour, q.ServerErrorsPerProjectPerHour)
	add(&sum.PotentiallyThresholdedRequestsPerHour, q.PotentiallyThresholdedRequestsPerHour)
	return sum
}

// ga4Metric types a metric value (GA4 sends every value as a string) by its MetricType.
func ga4Metric(v, typ string) (any, error) {
	if typ == "TYPE_INTEGER" {
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("TYPE_INTEGER value %q is not an integer", v)
		}
		return i, nil
	}
	if strings.HasPrefix(typ, "TYPE_") || typ == "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s value %q is not a finite number", typ, v)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown metric type %q", typ)
}
