package ga4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	analyticsdata "google.golang.org/api/analyticsdata/v1beta"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// GA4 Data API limits (developers.google.com/analytics/devguides/reporting/data/v1: the
// runReport reference and "Data API limits and quotas").
const (
	// GA4MaxLimit is the most rows one runReport returns: "limit" accepts at most 250,000 and
	// a larger value is cut to it; more rows are read by raising "offset".
	GA4MaxLimit = 250_000
	// GA4DefaultLimit is the page size a query without one uses: the API's own default.
	GA4DefaultLimit = 10_000
)

// GA4Config configures a GA4 Data API client.
type GA4Config struct {
	// ClientID, ClientSecret and RefreshToken are an OAuth grant of a user with access to the
	// property (the same path as YouTube's); all empty means TokenSource is used.
	ClientID, ClientSecret, RefreshToken string
	// TokenURL overrides Google's token endpoint (local servers).
	TokenURL string
	// TokenSource authorizes requests when no refresh token is given: nil means the function's
	// own service account (Application Default Credentials), which the property must list.
	TokenSource oauth2.TokenSource
	// BaseURL overrides https://analyticsdata.googleapis.com/ (local servers).
	BaseURL string
	// HTTPTimeout bounds one API attempt (for Stream, the API's silence: the time to the
	// response's headers, then between reads of its body); 0 means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// Now is the clock of token expiry and quota windows; nil means time.Now.
	Now func() time.Time
	// Logger receives retry notices; nil means slog.Default().
	Logger *slog.Logger
	// Transport is the base transport; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// GA4Query is one report of one property over one date range, read page by page.
type GA4Query struct {
	// Property is "properties/123456".
	Property string `json:"property"`
	// StartDate and EndDate are YYYY-MM-DD, inclusive.
	StartDate string `json:"start_date"`
	EndDate   string `json:"end_date"`
	// Dimensions and Metrics are GA4 API names, e.g. date, country; activeUsers, sessions.
	Dimensions []string `json:"dimensions"`
	Metrics    []string `json:"metrics"`
	// Limit is the rows asked per request (1..GA4MaxLimit); 0 means GA4DefaultLimit. Stream
	// asks for at most GA4PageRows a request (see GA4RequestRows).
	Limit int `json:"limit,omitempty"`
}

// QuotaFigure is one quota's use: what the request consumed and what remains.
type QuotaFigure struct {
	Consumed  int64 `json:"consumed"`
	Remaining int64 `json:"remaining"`
}

// GA4Quota is a runReport's propertyQuota (asked for with returnPropertyQuota). Consumed is
// summed over a task's pages; Remaining is the last page's.
type GA4Quota struct {
	TokensPerDay                          QuotaFigure `json:"tokens_per_day"`
	TokensPerHour                         QuotaFigure `json:"tokens_per_hour"`
	TokensPerProjectPerHour               QuotaFigure `json:"tokens_per_project_per_hour"`
	ConcurrentRequests                    QuotaFigure `json:"concurrent_requests"`
	ServerErrorsPerProjectPerHour         QuotaFigure `json:"server_errors_per_project_per_hour"`
	PotentiallyThresholdedRequestsPerHour QuotaFigure `json:"potentially_thresholded_requests_per_hour"`
}

// GA4 runs GA4 Data API reports. It is safe for concurrent use.
type GA4 struct {
	svc     *analyticsdata.Service
	client  *http.Client // the authorizing client Stream sends through
	tokens  oauth2.TokenSource
	cache   *sources.TokenCache // nil with a caller's TokenSource
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// NewGA4 builds a client; it does not contact Google.
func NewGA4(ctx context.Context, cfg GA4Config) (*GA4, error) {
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = sources.DefaultHTTPTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := sources.BaseTransport(cfg.Transport)
	g := &GA4{timeout: cfg.HTTPTimeout, now: cfg.Now, log: cfg.Logger}
	switch {
	case cfg.RefreshToken != "":
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return nil, errors.New("creating ga4 client: a refresh token needs its client id and client secret")
		}
		endpoint := google.Endpoint
		if cfg.TokenURL != "" {
			endpoint.TokenURL = cfg.TokenURL
		}
		conf := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: endpoint,
			Scopes: []string{analyticsdata.AnalyticsReadonlyScope}}
		tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient,
			&http.Client{Transport: base, Timeout: cfg.HTTPTimeout})
		g.cache = sources.NewTokenCache(tokenCtx, conf, cfg.RefreshToken, cfg.Now)
		g.tokens = g.cache
	case cfg.TokenSource != nil:
		g.tokens = cfg.TokenSource
	default:
		ts, err := google.DefaultTokenSource(context.WithoutCancel(ctx), analyticsdata.AnalyticsReadonlyScope)
		if err != nil {
			return nil, fmt.Errorf("creating ga4 client: the function's service account: %w", err)
		}
		g.tokens = ts
	}
	client := &http.Client{Transport: &sources.GoogleTransport{Tokens: g.tokens, Base: base, API: "ga4"}}
	opts := []option.ClientOption{option.WithHTTPClient(client)}
	if cfg.BaseURL != "" {
		u := cfg.BaseURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, option.WithEndpoint(u))
	}
	svc, err := analyticsdata.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating ga4 data service: %w", err)
	}
	g.svc, g.client = svc, client
	return g, nil
}

func (q GA4Query) validate() error {
	switch {
	case !strings.HasPrefix(q.Property, "properties/") || len(q.Property) == len("properties/"):
		return fmt.Errorf("property %q is not properties/ID", q.Property)
	case !sources.DatePattern.MatchString(q.StartDate), !sources.DatePattern.MatchString(q.EndDate):
		return fmt.Errorf("dates %q..%q are not YYYY-MM-DD", q.StartDate, q.EndDate)
	case q.StartDate > q.EndDate:
		return fmt.Errorf("startDate %s is after endDate %s", q.StartDate, q.EndDate)
	case len(q.Metrics) == 0:
		return errors.New("at least one metric is required")
	case q.Limit < 0 || q.Limit > GA4MaxLimit:
		return fmt.Errorf("limit %d is outside 0..%d", q.Limit, GA4MaxLimit)
	}
	return nil
}

// Report runs q page by page (offset += rows, until rowCount rows are read) and returns every
// page's body, the typed records (with "sampled" and "other_row" flags) and the quota figures.
// Errors are *Error; a 401 is retried once with a fresh token. It holds the whole report (each
// page's body, the generated client's decoded copy and the records): tasks use Stream, and
// Report stays for small reports and as the memory benchmark's baseline.
func (g *GA4) Report(ctx context.Context, q GA4Query) (*sources.Result, error) {
	if err := q.validate(); err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "invalidQuery", Err: fmt.Errorf("validating ga4 query: %w", err)}
	}
	limit := q.Limit
	if limit == 0 {
		limit = GA4DefaultLimit
	}
	res := &sources.Result{}
	pager := &GA4Pager{}
	retried401 := false
	for !pager.Done() {
		ex := &sources.Exchange{}
		err := g.runOnce(ctx, q, pager.Offset(), limit, ex)
		if ex.Sent {
			res.APICalls++
		}
		if err != nil {
			se := g.classify(err)
			if se.Status == http.StatusUnauthorized && !retried401 && g.cache != nil {
				retried401 = true
				g.log.WarnContext(ctx, "ga4 rejected the access token; refreshing and retrying once", "property", q.Property)
				g.cache.Invalidate(ex.Token)
				continue
			}
			se.APICalls = res.APICalls
			return nil, se
		}
		if err := pager.Add(ex.Body); err != nil {
			return nil, &sources.Error{Kind: sources.Permanent, Status: http.StatusOK, Reason: "badResponse", APICalls: res.APICalls, Err: err}
		}
	}
	res.Pages, res.Records, res.Quota = pager.Pages, pager.Records, pager.Quota.Report()
	if n := len(res.Pages); n > 0 {
		res.Raw = res.Pages[n-1]
	}
	return res, nil
}

// runOnce issues one runReport through the generated client.
func (g *GA4) runOnce(ctx context.Context, q GA4Query, offset, limit int, ex *sources.Exchange) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	_, err := g.svc.Properties.RunReport(q.Property, runReportRequest(q, offset, limit)).Context(sources.WithExchange(ctx, ex)).Do()
	return err
}

// runReportRequest is the runReport body of one page of q, for the buffered and the streamed
// path alike.
func runReportRequest(q GA4Query, offset, limit int) *analyticsdata.RunReportRequest {
	req := &analyticsdata.RunReportRequest{
		DateRanges:          []*analyticsdata.DateRange{{StartDate: q.StartDate, EndDate: q.EndDate}},
		Offset:              int64(offset),
		Limit:               int64(limit),
		ReturnPropertyQuota: true,
		// Rows in a stable order, so that offset paging neither skips nor repeats a row.
		OrderBys: dimensionOrder(q.Dimensions),
	}
	for _, d := range q.Dimensions {
		req.Dimensions = append(req.Dimensions, &analyticsdata.Dimension{Name: d})
	}
	for _, m := range q.Metrics {
		req.Metrics = append(req.Metrics, &analyticsdata.Metric{Name: m})
	}
	return req
}

func dimensionOrder(dims []string) []*analyticsdata.OrderBy {
	out := make([]*analyticsdata.OrderBy, 0, len(dims))
	for _, d := range dims {
		out = append(out, &analyticsdata.OrderBy{Dimension: &analyticsdata.DimensionOrderBy{DimensionName: d}})
	}
	return out
}

// classify turns a Do error into an *Error. A 429 without Retry-After waits for the window
// of the quota it names: the next hour for tokens per hour, midnight Pacific for tokens per day.
func (g *GA4) classify(err error) *sources.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return sources.ClassifyTokenError(re, g.now(), "ga4")
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason, msg := sources.GoogleReason([]byte(ge.Body))
		if msg == "" {
			msg = ge.Message
		}
		se := &sources.Error{
			Kind:       sources.KindForStatus(ge.Code, reason),
			Status:     ge.Code,
			Reason:     reason,
			RetryAfter: sources.ParseRetryAfter(ge.Header.Get("Retry-After"), g.now()),
			Err:        fmt.Errorf("ga4 runReport: %w", ge),
		}
		if se.Status == http.StatusTooManyRequests && se.RetryAfter == 0 {
			se.RetryAfter = GA4QuotaWait(msg, g.now())
		}
		return se
	}
	se := sources.ClassifyTransport(err)
	if se.Err == err {
		se.Err = fmt.Errorf("ga4 runReport: %w", err)
	}
	return se
}

// pacific is the zone GA4's daily quotas reset in (midnight PST); a fixed offset keeps the
// binary free of tzdata, at the cost of waiting an hour too long in summer.
var pacific = time.FixedZone("PST", -8*60*60)

// GA4QuotaWait is how long a 429 RESOURCE_EXHAUSTED waits when the API gave no Retry-After:
// until the window of the exhausted quota reopens (the API's message names it), or 0 (the
// queue's own backoff) when the message names none.
func GA4QuotaWait(message string, now time.Time) time.Duration {
	m := strings.ToLower(message)
	switch {
	case strings.Contains(m, "per hour"), strings.Contains(m, "tokensperhour"), strings.Contains(m, "hourly"):
		next := now.Truncate(time.Hour).Add(time.Hour)
		return next.Sub(now).Round(time.Second) + time.Second
	case strings.Contains(m, "per day"), strings.Contains(m, "tokensperday"), strings.Contains(m, "daily"):
		p := now.In(pacific)
		midnight := time.Date(p.Year(), p.Month(), p.Day()+1, 0, 0, 0, 0, pacific)
		return midnight.Sub(now).Round(time.Second) + time.Second
	}
	return 0
}
