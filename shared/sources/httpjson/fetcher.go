package httpjson

import (
	"context"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// EnvAllowedHosts is the allow-list of hosts a spec's URL may name (comma-separated; *.example.org
// allows subdomains): the Backfill function checks specs against it, the worker every request.
const EnvAllowedHosts = "HTTP_JSON_ALLOWED_HOSTS"

// Settings implements backfill.Source.
func (Source) Settings() []backfill.Setting {
	return []backfill.Setting{{Env: EnvAllowedHosts, Kind: backfill.List, Spec: true}}
}

// HostSettings are the source's settings allowing hosts, for tests and tools that build
// backfill.Limits.
func HostSettings(hosts ...string) backfill.SourceSettings {
	return backfill.SourceSettings{Name: {EnvAllowedHosts: {List: hosts}}}
}

// policy is the SSRF guard of the settings.
func policy(s backfill.Settings, allowPrivate bool) sources.HostPolicy {
	return sources.HostPolicy{Allow: s.List(EnvAllowedHosts), AllowPrivate: allowPrivate}
}

// NewFetcher implements backfill.Source: the client behind the allow-list, streamed page by page.
func (Source) NewFetcher(d backfill.Deps) backfill.Fetcher {
	return Fetcher{Src: NewHTTPJSON(HTTPJSONConfig{Policy: policy(d.Settings, d.AllowPrivateHosts),
		Timeout: d.APITimeout, Now: d.Now, Logger: d.Logger, Secrets: d.Secrets})}
}

// Streamer streams one paginated JSON resource page by page; *HTTPJSON is one.
type Streamer interface {
	Stream(ctx context.Context, req HTTPJSONRequest, fn func(sources.Page) error) (calls int, err error)
}

// Fetcher is the source's fetcher over a Streamer: the worker streams its tasks (StreamPages).
type Fetcher struct{ Src Streamer }

// Fetch holds the whole fetch (the worker streams instead).
func (f Fetcher) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	res := &sources.Result{}
	calls, err := f.StreamPages(ctx, t, func(p sources.Page) error {
		res.Pages, res.Records = append(res.Pages, p.Body), append(res.Records, p.Records...)
		return nil
	})
	res.APICalls = calls
	return res, err
}

// StreamPages runs the task page by page, handing each page to fn as it arrives.
func (f Fetcher) StreamPages(ctx context.Context, t backfill.TaskSpec, fn func(sources.Page) error) (int, error) {
	var req HTTPJSONRequest
	if err := backfill.Request(t, &req, "an http_json request"); err != nil {
		return 0, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	return f.Src.Stream(ctx, req, fn)
}
