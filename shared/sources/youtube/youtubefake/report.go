package youtubefake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// metricSpec is a metric the fake knows: its dataType, how cells combine and
// the range of its per-cell values.
type metricSpec struct {
	dataType string // INTEGER or FLOAT
	average  bool   // averaged across cells instead of summed
	modulus  uint64 // per-cell INTEGER values are hash % modulus; FLOAT ones (hash % modulus) / 1000
}

// metrics are the channel-report metrics the fake serves.
var metrics = map[string]metricSpec{
	"views":                   {"INTEGER", false, 1000},
	"likes":                   {"INTEGER", false, 100},
	"dislikes":                {"INTEGER", false, 10},
	"comments":                {"INTEGER", false, 20},
	"shares":                  {"INTEGER", false, 30},
	"subscribersGained":       {"INTEGER", false, 15},
	"subscribersLost":         {"INTEGER", false, 5},
	"videosAddedToPlaylists":  {"INTEGER", false, 12},
	"estimatedMinutesWatched": {"INTEGER", false, 5000},
	"averageViewDuration":     {"INTEGER", true, 600},
	"averageViewPercentage":   {"FLOAT", true, 100000},
	"estimatedRevenue":        {"FLOAT", false, 50000},
	"estimatedAdRevenue":      {"FLOAT", false, 40000},
	"grossRevenue":            {"FLOAT", false, 60000},
	"cpm":                     {"FLOAT", true, 20000},
	"playbackBasedCpm":        {"FLOAT", true, 20000},
}

// dimensions are the dimensions the fake serves.
var dimensions = map[string]bool{"day": true, "month": true, "video": true}

// notSupported is Google's message for a valid-looking but unsupported query.
const notSupported = "The query is not supported. Check the documentation at https://developers.google.com/youtube/analytics/v2/available_reports for a list of supported queries."

// YouTubeValue is the fake's value of metric for one video on one day (int64
// for INTEGER metrics, float64 for FLOAT ones), so tests can predict rows.
// Reports sum cells (or average them, for average* and cpm metrics).
func YouTubeValue(video, day, metric string) any {
	spec, ok := metrics[metric]
	if !ok {
		return nil
	}
	h := sourcestest.Hash64(video, day, metric) % spec.modulus
	if spec.dataType == "INTEGER" {
		return int64(h)
	}
	return float64(h) / 1000
}

// apiErr is a request error to send in Google's shape.
type apiErr struct {
	status          int
	reason, message string
}

// reportQuery is a validated reports.query request.
type reportQuery struct {
	start, end time.Time
	metrics    []string
	dims       []string
	videos     []string // nil: no video filter
	sort       []string
	maxResults int
	startIndex int
}

var (
	datePattern     = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// parseReportQuery validates the query parameters like reports.query does.
func parseReportQuery(v url.Values, channelID string) (reportQuery, *apiErr) {
	bad := func(msg string) (reportQuery, *apiErr) {
		return reportQuery{}, &apiErr{http.StatusBadRequest, "badRequest", msg}
	}
	var q reportQuery
	ids := v.Get("ids")
	switch {
	case ids == "":
		return bad("Required parameter: ids")
	case ids != "channel==MINE" && ids != "channel=="+channelID:
		return reportQuery{}, &apiErr{http.StatusForbidden, "forbidden", "Forbidden"}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"startDate", &q.start}, {"endDate", &q.end}} {
		s := v.Get(p.name)
		if s == "" {
			return bad("Required parameter: " + p.name)
		}
		t, err := time.Parse(time.DateOnly, s)
		if !datePattern.MatchString(s) || err != nil {
			return bad(fmt.Sprintf("Invalid value '%s'. Values must match the following regular expression: '[0-9]{4}-[0-9]{2}-[0-9]{2}'", s))
		}
		*p.dst = t
	}
	if q.end.Before(q.start) {
		return bad("The start date must be on or before the end date.")
	}
	if v.Get("metrics") == "" {
		return bad("Required parameter: metrics")
	}
	for _, m := range strings.Split(v.Get("metrics"), ",") {
		if _, ok := metrics[m]; !ok {
			return bad(fmt.Sprintf("Unknown identifier (%s) given in field parameters.metrics.", m))
		}
		q.metrics = append(q.metrics, m)
	}
	if d := v.Get("dimensions"); d != "" {
		for _, name := range strings.Split(d, ",") {
			if !dimensions[name] {
				return bad(fmt.Sprintf("Unknown identifier (%s) given in field parameters.dimensions.", name))
			}
			q.dims = append(q.dims, name)
		}
	}
	if slices.Contains(q.dims, "day") && slices.Contains(q.dims, "month") {
		return bad(notSupported)
	}
	if f := v.Get("filters"); f != "" {
		for _, part := range strings.Split(f, ";") {
			key, val, ok := strings.Cut(part, "==")
			if !ok || key != "video" || val == "" {
				return bad(fmt.Sprintf("Unknown identifier (%s) given in field parameters.filters.", key))
			}
			q.videos = strings.Split(val, ",")
		}
	}
	if s := v.Get("sort"); s != "" {
		for _, field := range strings.Split(s, ",") {
			name := strings.TrimPrefix(field, "-")
			if !slices.Contains(q.dims, name) && !slices.Contains(q.metrics, name) {
				return bad(notSupported)
			}
			q.sort = append(q.sort, field)
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"maxResults", &q.maxResults}, {"startIndex", &q.startIndex}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return bad(fmt.Sprintf("Invalid value '%s'. Values must be greater than or equal to 1", s))
		}
		*p.dst = n
	}
	// A "top videos" report must be bounded (Channel Reports: maxResults <= 200).
	if slices.Contains(q.dims, "video") && (q.maxResults == 0 || q.maxResults > 200) {
		return bad(notSupported)
	}
	if c := v.Get("currency"); c != "" && !currencyPattern.MatchString(c) {
		return bad(fmt.Sprintf("Invalid value '%s'. Values must match the following regular expression: '[A-Z]{3}'", c))
	}
	return q, nil
}

// ytFloat marshals like Google's FLOAT cells: always with a fraction.
type ytFloat float64

// MarshalJSON implements json.Marshaler.
func (f ytFloat) MarshalJSON() ([]byte, error) {
	s := strconv.FormatFloat(float64(f), 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return []byte(s), nil
}

// columnHeader is ResultTableColumnHeader.
type columnHeader struct {
	Name       string `json:"name"`
	DataType   string `json:"dataType"`
	ColumnType string `json:"columnType"`
}

// resultTable is QueryResponse; rows is omitted when empty, as Google does.
type resultTable struct {
	Kind          string         `json:"kind"`
	ColumnHeaders []columnHeader `json:"columnHeaders"`
	Rows          [][]any        `json:"rows,omitempty"`
}

// aggRow accumulates the cells of one result row.
type aggRow struct {
	dims  []string
	sums  []float64
	cells int
}

// buildReport computes the result table and the (video, day) cells it read.
func buildReport(q reportQuery, videos []string) ([]byte, []string) {
	var days []string
	for d := q.start; !d.After(q.end); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	groups := map[string]*aggRow{}
	var order []*aggRow
	cells := make([]string, 0, len(videos)*len(days))
	for _, video := range videos {
		for _, day := range days {
			cells = append(cells, video+"|"+day)
			key := make([]string, len(q.dims))
			for i, d := range q.dims {
				switch d {
				case "day":
					key[i] = day
				case "month":
					key[i] = day[:7]
				case "video":
					key[i] = video
				}
			}
			k := strings.Join(key, "\x00")
			g := groups[k]
			if g == nil {
				g = &aggRow{dims: key, sums: make([]float64, len(q.metrics))}
				groups[k] = g
				order = append(order, g)
			}
			g.cells++
			for i, m := range q.metrics {
				switch v := YouTubeValue(video, day, m).(type) {
				case int64:
					g.sums[i] += float64(v)
				case float64:
					g.sums[i] += v
				}
			}
		}
	}
	rows := make([][]any, 0, len(order))
	for _, g := range order {
		row := make([]any, 0, len(q.dims)+len(q.metrics))
		for _, d := range g.dims {
			row = append(row, d)
		}
		for i, m := range q.metrics {
			spec := metrics[m]
			x := g.sums[i]
			if spec.average {
				x /= float64(g.cells)
			}
			if spec.dataType == "INTEGER" {
				row = append(row, int64(math.Round(x)))
			} else {
				row = append(row, ytFloat(math.Round(x*1000)/1000))
			}
		}
		rows = append(rows, row)
	}
	sortRows(rows, q)
	if q.startIndex > 1 {
		rows = rows[min(q.startIndex-1, len(rows)):]
	}
	if q.maxResults > 0 && len(rows) > q.maxResults {
		rows = rows[:q.maxResults]
	}
	table := resultTable{Kind: "youtubeAnalytics#resultTable", Rows: rows}
	for _, d := range q.dims {
		table.ColumnHeaders = append(table.ColumnHeaders, columnHeader{d, "STRING", "DIMENSION"})
	}
	for _, m := range q.metrics {
		table.ColumnHeaders = append(table.ColumnHeaders, columnHeader{m, metrics[m].dataType, "METRIC"})
	}
	b, err := json.Marshal(table)
	if err != nil {
		panic(fmt.Sprintf("sourcestest: encoding report: %v", err)) // only plain values: cannot happen
	}
	return b, cells
}

// sortRows orders rows by the sort parameter, else by dimensions ascending.
func sortRows(rows [][]any, q reportQuery) {
	fields := q.sort
	if len(fields) == 0 {
		fields = q.dims
	}
	cols := append(append([]string{}, q.dims...), q.metrics...)
	slices.SortStableFunc(rows, func(a, b []any) int {
		for _, f := range fields {
			desc := strings.HasPrefix(f, "-")
			i := slices.Index(cols, strings.TrimPrefix(f, "-"))
			c := compareCell(a[i], b[i])
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// compareCell orders two cells of the same column.
func compareCell(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		return cmp.Compare(x, b.(int64))
	case ytFloat:
		return cmp.Compare(x, b.(ytFloat))
	}
	return 0
}
