package ga4fake

import "github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"

// config is the GA4 fake's own settings (sourcestest.Ext), beside the shared ones.
type config struct {
	property      string
	token         func(string) bool
	tokensPerHour int64
	otherRow      bool
	sampleOver    int
	hold          *GA4Hold
	truncate      int
}

// defaultConfig is the fake's settings before its options.
var defaultConfig = config{property: GA4DefaultPropertyID, tokensPerHour: GA4TokensPerHour}

// WithGA4Property sets the property id the GA4 fake serves (default GA4DefaultPropertyID);
// any other answers 403.
func WithGA4Property(id string) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.property = id })
}

// WithGA4TokenCheck makes the GA4 fake accept only access tokens valid says are good (for
// example YouTubeServer.ValidToken, so one token endpoint serves both); by default any bearer
// token passes.
func WithGA4TokenCheck(valid func(token string) bool) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.token = valid })
}

// WithGA4TokensPerHour sets the property's hourly core tokens (default GA4TokensPerHour): a
// request over them gets 429 RESOURCE_EXHAUSTED naming tokens per hour, with no Retry-After,
// as Google answers.
func WithGA4TokensPerHour(n int64) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.tokensPerHour = n })
}

// WithGA4OtherRow makes the last value of each non-date dimension "(other)" and sets
// metadata.dataLossFromOtherRow, as a high-cardinality report does.
func WithGA4OtherRow() sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.otherRow = true })
}

// WithGA4SamplingOver makes reports spanning more than days days sampled: the response's
// metadata carries samplingMetadatas.
func WithGA4SamplingOver(days int) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.sampleOver = days })
}

// GA4Hold holds a runReport body open partway: after AfterRows rows of a 200 response, the fake
// flushes what it wrote, closes Reached and waits for Release (or the request's end) before
// writing the rest. It fires once, on the first response with that many rows.
type GA4Hold struct {
	AfterRows int
	Reached   chan struct{}
	Release   chan struct{}
}

// NewGA4Hold returns a hold after rows rows.
func NewGA4Hold(rows int) *GA4Hold {
	return &GA4Hold{AfterRows: rows, Reached: make(chan struct{}), Release: make(chan struct{})}
}

// WithGA4Hold makes the fake hold a body open partway (see GA4Hold).
func WithGA4Hold(h *GA4Hold) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.hold = h })
}

// WithGA4TruncateAfter makes every 200 body end, connection closed, after rows rows: a body cut
// short on the wire (the client sees an unexpected EOF).
func WithGA4TruncateAfter(rows int) sourcestest.Option {
	return sourcestest.Ext(func(c *config) { c.truncate = rows })
}
