// Package sourcestest runs local servers that speak the APIs package sources
// reads from, so the official clients run unchanged in development, tests and
// benchmarks:
//
//   - YouTubeServer serves YouTube Analytics v2 GET /v2/reports (the path
//     google.golang.org/api/youtubeanalytics/v2 calls) and Google's OAuth
//     token endpoint POST /token, with deterministic numbers per (video, day,
//     metric), Google's error bodies, expiring access tokens and revocable
//     refresh tokens.
//   - JSONAPIServer serves a paginated JSON list (page, cursor and next-link
//     styles) and item details.
//
// Both inject faults (latency, random 503s and 429s from a seeded generator)
// and count what they served for assertions.
//
// Where the YouTube fake differs from Google: only the dimensions day, month
// and video and the filter video==... exist; every id gets data (no "video
// not in channel" check); the most recent days are not held back; month
// reports do not require whole months; quota is never counted (inject 403
// quotaExceeded with FailNext).
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package sourcestest

import (
	"context"
	"hash/fnv"
	"time"
)

// Option configures a YouTubeServer or a JSONAPIServer; options that do not
// apply to a server are ignored by it.
type Option func(*options)

// options is the union of both servers' settings.
type options struct {
	latency    time.Duration
	failRate   float64
	rate429    float64
	retryAfter time.Duration
	tokenTTL   time.Duration
	now        func() time.Time
	seed       uint64
	videos     []string
	channelID  string
	items      int
	pageSize   int
	// GA4Server's settings (ga4_options.go).
	ga4Property      string
	ga4Token         func(string) bool
	ga4TokensPerHour int64
	ga4OtherRow      bool
	ga4SampleOver    int
	ga4Hold          *GA4Hold
	ga4Truncate      int
}

func defaultOptions() options {
	return options{
		tokenTTL:  time.Hour,
		now:       time.Now,
		seed:      1,
		videos:    []string{"vid00000001", "vid00000002", "vid00000003"},
		channelID: DefaultChannelID,
		items:     95,
		pageSize:  10,

		ga4Property:      GA4DefaultPropertyID,
		ga4TokensPerHour: GA4TokensPerHour,
	}
}

// WithLatency delays every API response by d (not token responses); the
// delay holds no lock, so concurrent requests overlap.
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// WithFailRate answers a fraction f of API requests with 503.
func WithFailRate(f float64) Option { return func(o *options) { o.failRate = f } }

// With429Rate answers a fraction f of API requests with 429 and a Retry-After
// of retryAfter (whole seconds).
func With429Rate(f float64, retryAfter time.Duration) Option {
	return func(o *options) { o.rate429, o.retryAfter = f, retryAfter }
}

// WithTokenTTL sets how long issued access tokens live (default 1h, as
// Google's 3599 s).
func WithTokenTTL(d time.Duration) Option { return func(o *options) { o.tokenTTL = d } }

// WithClock sets the clock deciding token expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSeed seeds the fault generator (default 1), so a run's faults repeat.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithVideos sets the channel's videos, used when a query has no video filter.
func WithVideos(ids ...string) Option { return func(o *options) { o.videos = ids } }

// WithChannelID sets the channel id accepted in ids=channel==... besides MINE.
func WithChannelID(id string) Option { return func(o *options) { o.channelID = id } }

// WithItems sets how many items the JSON API lists (default 95).
func WithItems(n int) Option { return func(o *options) { o.items = n } }

// WithPageSize sets the JSON API's page size (default 10).
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = n } }

// hash64 is the deterministic source of every fake number.
func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// sleepCtx waits d or until ctx ends (a client that gave up).
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
