// Package sourcestest holds what the sources' fakes share: their options (latency, random 503s
// and 429s from a seeded generator, a clock, and each fake's own options through Ext), the
// grant the Google fakes' token endpoint accepts, and Google's error bodies. Each source's fake
// is a package of its folder (shared/sources/<name>/<name>fake): a local server that speaks the
// source's API, so the official clients run unchanged in development, tests and benchmarks.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package sourcestest

import (
	"context"
	"hash/fnv"
	"reflect"
	"time"
)

// Option configures a fake; options that do not apply to a fake are ignored by it.
type Option func(*Options)

// Options are the settings every fake reads (each the ones that apply to it), and each fake's
// own settings (Ext).
type Options struct {
	Latency    time.Duration
	FailRate   float64
	Rate429    float64
	RetryAfter time.Duration
	TokenTTL   time.Duration
	Now        func() time.Time
	Seed       uint64
	Videos     []string
	ChannelID  string
	Items      int
	PageSize   int

	ext map[reflect.Type][]any // a fake's own options, by the type of its settings
}

// Credentials the Google fakes' token endpoint accepts unless told otherwise, and the channel
// it serves.
const (
	DefaultClientID     = "sourcestest-client.apps.googleusercontent.com"
	DefaultClientSecret = "sourcestest-client-secret"
	DefaultRefreshToken = "1//sourcestest-refresh-token"
	DefaultChannelID    = "UCsourcestest00000000000"
)

// Resolve returns the defaults edited by opts.
func Resolve(opts []Option) Options {
	o := Options{
		TokenTTL:  time.Hour,
		Now:       time.Now,
		Seed:      1,
		Videos:    []string{"vid00000001", "vid00000002", "vid00000003"},
		ChannelID: DefaultChannelID,
		Items:     95,
		PageSize:  10,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Ext is an option of one fake: edit changes that fake's settings, of type T, which only it
// reads (ExtOf).
func Ext[T any](edit func(*T)) Option {
	return func(o *Options) {
		if o.ext == nil {
			o.ext = map[reflect.Type][]any{}
		}
		k := reflect.TypeFor[T]()
		o.ext[k] = append(o.ext[k], edit)
	}
}

// ExtOf returns a fake's settings: def edited by the Ext options of type T, in order.
func ExtOf[T any](o Options, def T) T {
	for _, e := range o.ext[reflect.TypeFor[T]()] {
		e.(func(*T))(&def)
	}
	return def
}

// WithLatency delays every API response by d (not token responses); the
// delay holds no lock, so concurrent requests overlap.
func WithLatency(d time.Duration) Option { return func(o *Options) { o.Latency = d } }

// WithFailRate answers a fraction f of API requests with 503.
func WithFailRate(f float64) Option { return func(o *Options) { o.FailRate = f } }

// With429Rate answers a fraction f of API requests with 429 and a Retry-After
// of retryAfter (whole seconds).
func With429Rate(f float64, retryAfter time.Duration) Option {
	return func(o *Options) { o.Rate429, o.RetryAfter = f, retryAfter }
}

// WithTokenTTL sets how long issued access tokens live (default 1h, as
// Google's 3599 s).
func WithTokenTTL(d time.Duration) Option { return func(o *Options) { o.TokenTTL = d } }

// WithClock sets the clock deciding token expiry.
func WithClock(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

// WithSeed seeds the fault generator (default 1), so a run's faults repeat.
func WithSeed(seed uint64) Option { return func(o *Options) { o.Seed = seed } }

// WithVideos sets the channel's videos, used when a query has no video filter.
func WithVideos(ids ...string) Option { return func(o *Options) { o.Videos = ids } }

// WithChannelID sets the channel id accepted in ids=channel==... besides MINE.
func WithChannelID(id string) Option { return func(o *Options) { o.ChannelID = id } }

// WithItems sets how many items the JSON API lists (default 95).
func WithItems(n int) Option { return func(o *Options) { o.Items = n } }

// WithPageSize sets the JSON API's page size (default 10).
func WithPageSize(n int) Option { return func(o *Options) { o.PageSize = n } }

// Hash64 is the deterministic source of every fake number.
func Hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// SleepCtx waits d or until ctx ends (a client that gave up).
func SleepCtx(ctx context.Context, d time.Duration) {
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
