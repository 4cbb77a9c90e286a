package youtube

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
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	youtubeanalytics "google.golang.org/api/youtubeanalytics/v2"
)

// YouTube Analytics limits the planner sizes its tasks by; see the package
// doc for sources and caveats.
const (
	// MaxTopVideosResults is the largest maxResults a "top videos" report
	// (dimension video sorted by a metric) accepts.
	MaxTopVideosResults = 200
	// MaxVideosPerFilter is the most ids the planner puts in one
	// video==a,b,... filter.
	MaxVideosPerFilter = 500
)

// YouTubeConfig configures a YouTube Analytics client.
type YouTubeConfig struct {
	// ClientID and ClientSecret identify the OAuth client the channel owner
	// granted access to.
	ClientID, ClientSecret string
	// RefreshToken is the channel owner's long-lived grant.
	RefreshToken string
	// TokenURL overrides Google's token endpoint (local servers); "" means
	// https://oauth2.googleapis.com/token.
	TokenURL string
	// BaseURL overrides https://youtubeanalytics.googleapis.com/ (local
	// servers); the client appends "v2/reports".
	BaseURL string
	// HTTPTimeout bounds one API attempt (and one token refresh); 0 means
	// DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// Now is the clock used for token expiry and Retry-After dates; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives retry notices; nil means slog.Default().
	Logger *slog.Logger
	// Transport is the base transport for API and token calls; nil means a
	// clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// YouTubeQuery is one reports.query call.
type YouTubeQuery struct {
	// IDs is "channel==MINE" or "channel==UC...".
	IDs string
	// StartDate and EndDate are YYYY-MM-DD, inclusive.
	StartDate, EndDate string
	// Metrics and Dimensions are YouTube names, e.g. views, day.
	Metrics, Dimensions []string
	// Filters is e.g. "video==abc" or "video==a,b;country==IT".
	Filters string
	// Sort is e.g. "day" or "-views".
	Sort string
	// MaxResults and StartIndex (one-based) page a report; 0 leaves them unset.
	MaxResults int
	StartIndex int
	// Currency is an ISO 4217 code for revenue metrics; "" means USD.
	Currency string
}

// YouTube queries YouTube Analytics for one channel grant. It is safe for
// concurrent use; all queries share one token source.
type YouTube struct {
	svc     *youtubeanalytics.Service
	tokens  *sources.TokenCache
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// NewYouTube builds a client; it does not contact Google (the first Query
// fetches the first access token).
func NewYouTube(ctx context.Context, cfg YouTubeConfig) (*YouTube, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.RefreshToken == "" {
		return nil, errors.New("creating youtube analytics client: client id, client secret and refresh token are required")
	}
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
	endpoint := google.Endpoint
	if cfg.TokenURL != "" {
		endpoint.TokenURL = cfg.TokenURL
	}
	conf := &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     endpoint,
		Scopes:       []string{youtubeanalytics.YtAnalyticsReadonlyScope},
	}
	// The token source outlives ctx (it refreshes for later queries), so it
	// keeps ctx's values but not its cancellation.
	tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient,
		&http.Client{Transport: base, Timeout: cfg.HTTPTimeout})
	tokens := sources.NewTokenCache(tokenCtx, conf, cfg.RefreshToken, cfg.Now)

	client := &http.Client{Transport: &sources.GoogleTransport{Tokens: tokens, Base: base, API: "youtube analytics"}}
	opts := []option.ClientOption{option.WithHTTPClient(client)}
	if cfg.BaseURL != "" {
		u := cfg.BaseURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, option.WithEndpoint(u))
	}
	svc, err := youtubeanalytics.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating youtube analytics service: %w", err)
	}
	return &YouTube{svc: svc, tokens: tokens, timeout: cfg.HTTPTimeout, now: cfg.Now, log: cfg.Logger}, nil
}

// validate rejects what Google would reject with a 400, without spending a
// quota unit.
func (q YouTubeQuery) validate() error {
	switch {
	case q.IDs == "":
		return errors.New("ids is required")
	case !sources.DatePattern.MatchString(q.StartDate):
		return fmt.Errorf("startDate %q is not YYYY-MM-DD", q.StartDate)
	case !sources.DatePattern.MatchString(q.EndDate):
		return fmt.Errorf("endDate %q is not YYYY-MM-DD", q.EndDate)
	case q.StartDate > q.EndDate:
		return fmt.Errorf("startDate %s is after endDate %s", q.StartDate, q.EndDate)
	case len(q.Metrics) == 0:
		return errors.New("at least one metric is required")
	case q.MaxResults < 0 || q.StartIndex < 0:
		return errors.New("maxResults and startIndex must not be negative")
	}
	return nil
}

// Query runs q once (twice when the first attempt gets a 401: the cached
// access token is dropped, refreshed and the query retried once). Errors are
// *Error.
func (y *YouTube) Query(ctx context.Context, q YouTubeQuery) (*sources.Result, error) {
	if err := q.validate(); err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "invalidQuery", Err: fmt.Errorf("validating youtube analytics query: %w", err)}
	}
	res := &sources.Result{}
	for attempt := 1; ; attempt++ {
		ex := &sources.Exchange{}
		decoded, err := y.queryOnce(ctx, q, ex)
		if ex.Sent {
			res.APICalls++
		}
		if err == nil {
			return y.result(res, ex, decoded)
		}
		se := y.classify(err)
		if se.Status == http.StatusUnauthorized && attempt == 1 {
			// The access token died in flight (revoked by a password change,
			// or the server's clock disagrees with ours): refresh and retry
			// once; a second 401 goes back to the queue as Transient.
			y.log.WarnContext(ctx, "youtube analytics rejected the access token; refreshing and retrying once", "ids", q.IDs)
			y.tokens.Invalidate(ex.Token)
			continue
		}
		se.APICalls = res.APICalls
		return nil, se
	}
}

// queryOnce issues one reports.query through the generated client.
func (y *YouTube) queryOnce(ctx context.Context, q YouTubeQuery, ex *sources.Exchange) (*youtubeanalytics.QueryResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, y.timeout)
	defer cancel()
	call := y.svc.Reports.Query().
		Ids(q.IDs).
		StartDate(q.StartDate).
		EndDate(q.EndDate).
		Metrics(strings.Join(q.Metrics, ","))
	if len(q.Dimensions) > 0 {
		call.Dimensions(strings.Join(q.Dimensions, ","))
	}
	if q.Filters != "" {
		call.Filters(q.Filters)
	}
	if q.Sort != "" {
		call.Sort(q.Sort)
	}
	if q.MaxResults > 0 {
		call.MaxResults(int64(q.MaxResults))
	}
	if q.StartIndex > 0 {
		call.StartIndex(int64(q.StartIndex))
	}
	if q.Currency != "" {
		call.Currency(q.Currency)
	}
	return call.Context(sources.WithExchange(ctx, ex)).Do()
}

// result fills res from a successful exchange.
func (y *YouTube) result(res *sources.Result, ex *sources.Exchange, decoded *youtubeanalytics.QueryResponse) (*sources.Result, error) {
	raw := ex.Body
	if raw == nil && decoded != nil {
		// Only when a caller-supplied Transport hid the body from us.
		b, err := decoded.MarshalJSON()
		if err != nil {
			return nil, &sources.Error{Kind: sources.Permanent, Err: fmt.Errorf("re-encoding youtube analytics response: %w", err)}
		}
		raw = b
	}
	cols, rows, err := decodeReport(raw)
	if err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Status: http.StatusOK, Reason: "badResponse", Err: err}
	}
	res.Raw, res.Pages, res.Columns, res.Rows = raw, [][]byte{raw}, cols, rows
	return res, nil
}

// classify turns a Do error into an *Error.
func (y *YouTube) classify(err error) *sources.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return sources.ClassifyTokenError(re, y.now(), "youtube")
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason, _ := sources.GoogleReason([]byte(ge.Body))
		if reason == "" && len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		kind := sources.KindForStatus(ge.Code, reason)
		return &sources.Error{
			Kind:       kind,
			Status:     ge.Code,
			Reason:     reason,
			RetryAfter: sources.ParseRetryAfter(ge.Header.Get("Retry-After"), y.now()),
			Err:        fmt.Errorf("youtube analytics reports.query: %w", ge),
		}
	}
	se := sources.ClassifyTransport(err)
	if se.Err == err {
		se.Err = fmt.Errorf("youtube analytics reports.query: %w", err)
	}
	return se
}
