package sourcestest

// WithGA4Property sets the property id the GA4 fake serves (default GA4DefaultPropertyID);
// any other answers 403.
func WithGA4Property(id string) Option { return func(o *options) { o.ga4Property = id } }

// WithGA4TokenCheck makes the GA4 fake accept only access tokens valid says are good (for
// example YouTubeServer.ValidToken, so one token endpoint serves both); by default any bearer
// token passes.
func WithGA4TokenCheck(valid func(token string) bool) Option {
	return func(o *options) { o.ga4Token = valid }
}

// WithGA4TokensPerHour sets the property's hourly core tokens (default GA4TokensPerHour): a
// request over them gets 429 RESOURCE_EXHAUSTED naming tokens per hour, with no Retry-After,
// as Google answers.
func WithGA4TokensPerHour(n int64) Option { return func(o *options) { o.ga4TokensPerHour = n } }

// WithGA4OtherRow makes the last value of each non-date dimension "(other)" and sets
// metadata.dataLossFromOtherRow, as a high-cardinality report does.
func WithGA4OtherRow() Option { return func(o *options) { o.ga4OtherRow = true } }

// WithGA4SamplingOver makes reports spanning more than days days sampled: the response's
// metadata carries samplingMetadatas.
func WithGA4SamplingOver(days int) Option { return func(o *options) { o.ga4SampleOver = days } }
