// Package ga4fake runs a local GA4 Data API (runReport) for the ga4 source, with the options of
// sourcestest and its own (WithGA4...).
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package ga4fake

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	analyticsdata "google.golang.org/api/analyticsdata/v1beta"
)

// GA4 Data API figures the fake reproduces (developers.google.com/analytics/devguides/
// reporting/data/v1: runReport reference and "Data API limits and quotas", standard property).
const (
	// GA4MaxLimit is the most rows one runReport returns; a larger limit is cut to it.
	GA4MaxLimit = 250_000
	// GA4DefaultLimit is the rows a request without a limit gets.
	GA4DefaultLimit = 10_000
	// GA4TokensPerDay, GA4TokensPerHour and GA4TokensPerProjectPerHour are a standard
	// property's core token quotas; GA4ConcurrentRequests its concurrent requests;
	// GA4ServerErrorsPerHour its server errors per project per hour.
	GA4TokensPerDay            = 200_000
	GA4TokensPerHour           = 40_000
	GA4TokensPerProjectPerHour = 14_000
	GA4ConcurrentRequests      = 10
	GA4ServerErrorsPerHour     = 10
	// GA4DefaultPropertyID is the property the fake serves.
	GA4DefaultPropertyID = "123456789"
)

// GA4 metrics the fake knows, with their MetricType.
var ga4Metrics = map[string]string{
	"activeUsers": "TYPE_INTEGER", "newUsers": "TYPE_INTEGER", "totalUsers": "TYPE_INTEGER",
	"sessions": "TYPE_INTEGER", "screenPageViews": "TYPE_INTEGER", "eventCount": "TYPE_INTEGER",
	"conversions": "TYPE_INTEGER", "engagedSessions": "TYPE_INTEGER",
	"averageSessionDuration": "TYPE_SECONDS", "engagementRate": "TYPE_FLOAT", "bounceRate": "TYPE_FLOAT",
	"totalRevenue": "TYPE_CURRENCY",
}

// GA4 dimensions the fake knows, with their values (date's come from the date range).
var ga4Dimensions = map[string][]string{
	"date":                       nil,
	"country":                    {"Brazil", "France", "India", "Japan", "United States"},
	"deviceCategory":             {"desktop", "mobile", "tablet"},
	"sessionDefaultChannelGroup": {"Direct", "Organic Search", "Referral"},
	"pagePath":                   {"/", "/about", "/blog", "/pricing"},
	"browser":                    {"Chrome", "Edge", "Firefox", "Safari"},
	"operatingSystem":            {"Android", "Macintosh", "Linux", "Windows", "iOS"},
	"language":                   {"English", "French", "German", "Japanese", "Portuguese", "Spanish"},
	"city": {"Berlin", "Chicago", "London", "Madrid", "Mumbai", "New York", "Osaka", "Paris", "Rio de Janeiro",
		"San Francisco", "São Paulo", "Tokyo"},
}

// GA4Stats is a snapshot of what a GA4Server served.
type GA4Stats struct {
	// Calls counts runReport requests, whatever their outcome.
	Calls int
	// ByStatus counts responses per HTTP status.
	ByStatus map[int]int
	// RowsServed counts rows sent with 200.
	RowsServed int
	// TokensThisHour is the tokens charged in the current hour.
	TokensThisHour int64
	// Limits is the limit field of each well-formed runReport request, in order.
	Limits []int64
}

// GA4Server is a local GA4 Data API: POST /v1beta/properties/{id}:runReport, the path
// google.golang.org/api/analyticsdata/v1beta calls.
//
// Where the fake differs from Google: the dimensions and metrics are the few above; dates are
// YYYY-MM-DD only (no "7daysAgo"), one date range per request; rows come sorted by the
// requested dimensions in order whatever orderBys says; the token cost of a request is
// 1 + rows/100 (Google's is not published); a report is sampled when it spans more days than
// WithGA4SamplingOver allows; with WithGA4OtherRow the last value of each non-date dimension
// is "(other)", as in a high-cardinality report.
type GA4Server struct {
	srv  *httptest.Server
	opts sourcestest.Options
	cfg  config

	mu        sync.Mutex
	rng       *rand.Rand
	faults    []fault
	calls     int
	byStatus  map[int]int
	rows      int
	hour      time.Time
	tokensHr  int64
	tokensDay int64
	errorsHr  int64
	limits    []int64
	held      bool
}

// NewGA4Server starts a fake GA4 Data API on loopback; Close it when done. It accepts the
// options of the YouTube fake (latency, 503 and 429 rates, seed, clock) and the WithGA4 ones.
func NewGA4Server(opts ...sourcestest.Option) *GA4Server {
	o := sourcestest.Resolve(opts)
	s := &GA4Server{opts: o, cfg: sourcestest.ExtOf(o, defaultConfig), rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x51a4)), byStatus: map[int]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1beta/properties/{call}", s.handleRunReport)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the API base URL (GA4Config.BaseURL).
func (s *GA4Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *GA4Server) Close() { s.srv.Close() }

// FailNext makes the next n authorized requests fail with status (429 names tokens per hour).
func (s *GA4Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status})
	}
}

// Stats returns a snapshot of the counters.
func (s *GA4Server) Stats() GA4Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := GA4Stats{Calls: s.calls, ByStatus: map[int]int{}, RowsServed: s.rows, TokensThisHour: s.tokensHr,
		Limits: slices.Clone(s.limits)}
	for k, v := range s.byStatus {
		st.ByStatus[k] = v
	}
	return st
}

func (s *GA4Server) handleRunReport(w http.ResponseWriter, r *http.Request) {
	sourcestest.SleepCtx(r.Context(), s.opts.Latency)
	status, body, hdr, rep := s.runReport(r)
	rows := 0
	if rep != nil {
		rows = rep.rows()
	}
	s.mu.Lock()
	s.calls++
	s.byStatus[status]++
	s.rows += rows
	if status >= 500 {
		s.errorsHr++
	}
	s.mu.Unlock()
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	if rep == nil {
		w.Write(body)
		return
	}
	s.writeReport(r.Context(), w, rep)
}

// ga4Report is a 200 answer, written row by row as it is generated.
type ga4Report struct {
	head      *analyticsdata.RunReportResponse // headers, rowCount, metadata, propertyQuota
	from, to  int64                            // the rows served: [from, to)
	values    [][]string
	metricHdr []*analyticsdata.MetricHeader
}

func (rep *ga4Report) rows() int { return int(rep.to - rep.from) }

// row is row i of the report.
func (rep *ga4Report) row(i int64) *analyticsdata.Row {
	row := &analyticsdata.Row{}
	key := make([]string, len(rep.values))
	rest := i
	for d := len(rep.values) - 1; d >= 0; d-- {
		key[d] = rep.values[d][rest%int64(len(rep.values[d]))]
		rest /= int64(len(rep.values[d]))
	}
	for _, v := range key {
		row.DimensionValues = append(row.DimensionValues, &analyticsdata.DimensionValue{Value: v})
	}
	for _, h := range rep.metricHdr {
		row.MetricValues = append(row.MetricValues, &analyticsdata.MetricValue{Value: GA4Value(h.Name, h.Type, key)})
	}
	return row
}

// writeReport writes rep in the field order of the API's JSON representation (RunReportResponse
// reference, https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse):
// dimensionHeaders, metricHeaders, rows, rowCount, metadata, propertyQuota, kind. So rowCount,
// the sampling metadata and the quota arrive after the last row, as they do from Google. Rows
// are generated and written one at a time, so the fake's memory does not grow with the page.
func (s *GA4Server) writeReport(ctx context.Context, w http.ResponseWriter, rep *ga4Report) {
	bw := bufio.NewWriterSize(w, 32<<10)
	field := func(first bool, name string, v any) {
		if !first {
			bw.WriteByte(',')
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(bw, "%q:%s", name, b)
	}
	bw.WriteByte('{')
	field(true, "dimensionHeaders", rep.head.DimensionHeaders)
	field(false, "metricHeaders", rep.head.MetricHeaders)
	if rep.to > rep.from {
		bw.WriteString(`,"rows":[`)
		for i := rep.from; i < rep.to; i++ {
			if i > rep.from {
				bw.WriteByte(',')
			}
			b, _ := json.Marshal(rep.row(i))
			bw.Write(b)
			n := int(i - rep.from + 1)
			if t := s.cfg.truncate; t > 0 && n == t {
				bw.Flush()
				w.(http.Flusher).Flush()
				// Ends the response without its last chunk: the client reads an unexpected EOF.
				panic(http.ErrAbortHandler)
			}
			if h := s.cfg.hold; h != nil && n == h.AfterRows && s.holdOnce() {
				bw.Flush()
				w.(http.Flusher).Flush()
				close(h.Reached)
				select {
				case <-h.Release:
				case <-ctx.Done():
					return
				}
			}
		}
		bw.WriteByte(']')
	}
	if rep.head.RowCount != 0 {
		field(false, "rowCount", rep.head.RowCount)
	}
	field(false, "metadata", rep.head.Metadata)
	if rep.head.PropertyQuota != nil {
		field(false, "propertyQuota", rep.head.PropertyQuota)
	}
	field(false, "kind", rep.head.Kind)
	bw.WriteByte('}')
	bw.Flush()
}

// holdOnce reports whether this response is the one to hold.
func (s *GA4Server) holdOnce() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		return false
	}
	s.held = true
	return true
}

// ga4Error renders the API's error body: {"error":{"code","message","status"}}.
func ga4Error(status int, message string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": message, "status": sourcestest.StatusNames[status]}})
	return b
}

// exhaustedHour is the API's message when a property's hourly tokens are spent.
const exhaustedHour = "Exhausted property tokens per hour. The property's quota refreshes in under an hour. To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"

func (s *GA4Server) runReport(r *http.Request) (status int, body []byte, hdr map[string]string, rep *ga4Report) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" || (s.cfg.token != nil && !s.cfg.token(tok)) {
		return http.StatusUnauthorized, ga4Error(http.StatusUnauthorized, "Request had invalid authentication credentials."),
			map[string]string{"WWW-Authenticate": `Bearer realm="https://accounts.google.com/", error="invalid_token"`}, nil
	}
	id, ok := strings.CutSuffix(r.PathValue("call"), ":runReport")
	if !ok {
		return http.StatusNotFound, ga4Error(http.StatusNotFound, "Method not found."), nil, nil
	}
	if id != s.cfg.property {
		return http.StatusForbidden, ga4Error(http.StatusForbidden, "User does not have sufficient permissions for this property."), nil, nil
	}
	s.mu.Lock()
	f := s.drawFaultLocked()
	s.mu.Unlock()
	if f != nil {
		hdr = map[string]string{}
		msg := "The service is currently unavailable."
		if f.status == http.StatusTooManyRequests {
			msg = exhaustedHour
			if s.opts.RetryAfter > 0 {
				hdr["Retry-After"] = fmt.Sprint(int(s.opts.RetryAfter / time.Second))
			}
		}
		return f.status, ga4Error(f.status, msg), hdr, nil
	}
	var req analyticsdata.RunReportRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return http.StatusBadRequest, ga4Error(http.StatusBadRequest, "Invalid JSON payload received. "+err.Error()), nil, nil
	}
	s.mu.Lock()
	s.limits = append(s.limits, req.Limit)
	s.mu.Unlock()
	rep, msg := s.buildReport(&req)
	if msg != "" {
		return http.StatusBadRequest, ga4Error(http.StatusBadRequest, msg), nil, nil
	}
	cost := int64(1 + rep.rows()/100)
	s.mu.Lock()
	now := s.opts.Now()
	if h := now.Truncate(time.Hour); !h.Equal(s.hour) {
		s.hour, s.tokensHr, s.errorsHr = h, 0, 0
	}
	limitHr := s.cfg.tokensPerHour
	if s.tokensHr+cost > limitHr {
		s.mu.Unlock()
		return http.StatusTooManyRequests, ga4Error(http.StatusTooManyRequests, exhaustedHour), nil, nil
	}
	s.tokensHr += cost
	s.tokensDay += cost
	if req.ReturnPropertyQuota {
		rep.head.PropertyQuota = &analyticsdata.PropertyQuota{
			TokensPerDay:                          &analyticsdata.QuotaStatus{Consumed: cost, Remaining: max(GA4TokensPerDay-s.tokensDay, 0)},
			TokensPerHour:                         &analyticsdata.QuotaStatus{Consumed: cost, Remaining: limitHr - s.tokensHr},
			TokensPerProjectPerHour:               &analyticsdata.QuotaStatus{Consumed: cost, Remaining: max(GA4TokensPerProjectPerHour-s.tokensHr, 0)},
			ConcurrentRequests:                    &analyticsdata.QuotaStatus{Consumed: 0, Remaining: GA4ConcurrentRequests},
			ServerErrorsPerProjectPerHour:         &analyticsdata.QuotaStatus{Consumed: 0, Remaining: max(GA4ServerErrorsPerHour-s.errorsHr, 0)},
			PotentiallyThresholdedRequestsPerHour: &analyticsdata.QuotaStatus{Consumed: 0, Remaining: 120},
		}
		// The API sends zeros (consumed of a request that used none) explicitly.
		pq := rep.head.PropertyQuota
		for _, q := range []*analyticsdata.QuotaStatus{pq.ConcurrentRequests, pq.ServerErrorsPerProjectPerHour,
			pq.PotentiallyThresholdedRequestsPerHour, pq.TokensPerHour, pq.TokensPerDay} {
			q.ForceSendFields = []string{"Consumed", "Remaining"}
		}
	}
	s.mu.Unlock()
	return http.StatusOK, nil, nil, rep
}

func (s *GA4Server) drawFaultLocked() *fault {
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		return &f
	}
	if s.opts.FailRate <= 0 && s.opts.Rate429 <= 0 {
		return nil
	}
	x := s.rng.Float64()
	switch {
	case x < s.opts.FailRate:
		return &fault{status: http.StatusServiceUnavailable}
	case x < s.opts.FailRate+s.opts.Rate429:
		return &fault{status: http.StatusTooManyRequests}
	}
	return nil
}

// buildReport answers a valid request, or says why it is not one.
func (s *GA4Server) buildReport(req *analyticsdata.RunReportRequest) (*ga4Report, string) {
	if len(req.DateRanges) != 1 {
		return nil, "the fake GA4 API takes exactly one dateRange"
	}
	start, err1 := time.Parse("2006-01-02", req.DateRanges[0].StartDate)
	end, err2 := time.Parse("2006-01-02", req.DateRanges[0].EndDate)
	if err1 != nil || err2 != nil || end.Before(start) {
		return nil, fmt.Sprintf("Invalid date range %s..%s.", req.DateRanges[0].StartDate, req.DateRanges[0].EndDate)
	}
	if len(req.Metrics) == 0 {
		return nil, "At least one metric is required."
	}
	if req.Limit < 0 || req.Offset < 0 {
		return nil, "limit and offset must be non-negative."
	}
	limit := req.Limit
	if limit == 0 {
		limit = GA4DefaultLimit
	}
	limit = min(limit, GA4MaxLimit)

	rep := &analyticsdata.RunReportResponse{Kind: "analyticsData#runReport",
		Metadata: &analyticsdata.ResponseMetaData{CurrencyCode: "USD", TimeZone: "America/Los_Angeles"}}
	values := make([][]string, len(req.Dimensions))
	for i, d := range req.Dimensions {
		vs, ok := ga4Dimensions[d.Name]
		if !ok {
			return nil, fmt.Sprintf("Field %s is not a valid dimension. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema", d.Name)
		}
		if d.Name == "date" {
			vs = nil
			for t := start; !t.After(end); t = t.AddDate(0, 0, 1) {
				vs = append(vs, t.Format("20060102"))
			}
		} else if s.cfg.otherRow {
			vs = append(slices.Clone(vs[:len(vs)-1]), "(other)")
			rep.Metadata.DataLossFromOtherRow = true
		}
		values[i] = slices.Sorted(slices.Values(vs))
		rep.DimensionHeaders = append(rep.DimensionHeaders, &analyticsdata.DimensionHeader{Name: d.Name})
	}
	for _, m := range req.Metrics {
		typ, ok := ga4Metrics[m.Name]
		if !ok {
			return nil, fmt.Sprintf("Field %s is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema", m.Name)
		}
		rep.MetricHeaders = append(rep.MetricHeaders, &analyticsdata.MetricHeader{Name: m.Name, Type: typ})
	}
	total := int64(1)
	for _, vs := range values {
		total *= int64(len(vs))
	}
	if total > 0 && len(values) > 0 {
		rep.RowCount = total
	} else if len(values) == 0 {
		rep.RowCount = 1
		total = 1
	}
	days := int64(end.Sub(start).Hours()/24) + 1
	if s.cfg.sampleOver > 0 && days > int64(s.cfg.sampleOver) {
		rep.Metadata.SamplingMetadatas = []*analyticsdata.SamplingMetadata{{SamplesReadCount: 500_000, SamplingSpaceSize: 500_000 * days / int64(s.cfg.sampleOver)}}
	}
	out := &ga4Report{head: rep, from: min(req.Offset, total), to: min(total, req.Offset+limit), values: values, metricHdr: rep.MetricHeaders}
	return out, ""
}

// GA4Value is the fake's deterministic value of metric (of type typ) for the row whose
// dimension values are key, as the API sends it (a string).
func GA4Value(metric, typ string, key []string) string {
	h := sourcestest.Hash64(append([]string{"ga4", metric}, key...)...)
	switch typ {
	case "TYPE_INTEGER":
		return fmt.Sprint(h % 10_000)
	case "TYPE_FLOAT":
		return fmt.Sprintf("%.4f", float64(h%10_000)/10_000)
	default:
		return fmt.Sprintf("%.2f", float64(h%1_000_000)/100)
	}
}

// Env points the ga4 source at the fake (its tokens come from the YouTube fake's grant).
func (s *GA4Server) Env() map[string]string {
	return map[string]string{"GA4_API_BASE_URL": s.URL()}
}

// fault is one queued failure from FailNext.
type fault struct{ status int }

// Counts implements sourcestest.Fake: the runReport requests by status (its tokens come from
// another fake's token endpoint, which counts them).
func (s *GA4Server) Counts() sourcestest.Counts {
	st := s.Stats()
	return sourcestest.Counts{Calls: st.Calls, ByStatus: st.ByStatus}
}
