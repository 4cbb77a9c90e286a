package youtube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// The source's settings: the OAuth grant of the channel's owner (Secret settings: deployed,
// YOUTUBE_CLIENT_ID_SECRET and so on name Secret Manager versions) and the base URLs a local
// run points at the fake.
const (
	EnvClientID     = "YOUTUBE_CLIENT_ID"
	EnvClientSecret = "YOUTUBE_CLIENT_SECRET"
	EnvRefreshToken = "YOUTUBE_REFRESH_TOKEN"
	// EnvTokenURL overrides Google's OAuth token endpoint.
	EnvTokenURL = "YOUTUBE_TOKEN_URL"
	// EnvAPIBaseURL overrides https://youtubeanalytics.googleapis.com/.
	EnvAPIBaseURL = "YOUTUBE_API_BASE_URL"
)

// grantEnvs are the grant's three settings, needed together.
var grantEnvs = []string{EnvClientID, EnvClientSecret, EnvRefreshToken}

// GrantSettings are the Google OAuth grant's settings (the three secrets and the token URL),
// which the ga4 source reads too.
func GrantSettings() []backfill.Setting {
	return []backfill.Setting{
		{Env: EnvClientID, Kind: backfill.Secret},
		{Env: EnvClientSecret, Kind: backfill.Secret},
		{Env: EnvRefreshToken, Kind: backfill.Secret},
		{Env: EnvTokenURL, Kind: backfill.URL},
	}
}

// Settings implements backfill.Source.
func (Source) Settings() []backfill.Setting {
	return append(GrantSettings(), backfill.Setting{Env: EnvAPIBaseURL, Kind: backfill.URL})
}

// CheckSettings implements backfill.SettingsChecker: the grant is all or nothing (a deployment
// that runs no YouTube backfill leaves it out).
func (Source) CheckSettings(s backfill.Settings) (string, error) {
	configured := 0
	for _, e := range grantEnvs {
		if s.Credential(e).Set() {
			configured++
		}
	}
	if configured != 0 && configured != len(grantEnvs) {
		return EnvRefreshToken + "_SECRET", fmt.Errorf("the YouTube client id, client secret and refresh token are needed together: %d of 3 are set", configured)
	}
	return "", nil
}

// GrantConfigured reports whether the grant is configured.
func GrantConfigured(s backfill.Settings) bool { return s.Credential(EnvRefreshToken).Set() }

// Grant reads the grant's three values through r (nil when the settings hold the values).
func Grant(ctx context.Context, s backfill.Settings, r backfill.SecretResolver) (id, secret, refresh string, err error) {
	vals := make([]string, len(grantEnvs))
	for i, e := range grantEnvs {
		if vals[i], err = s.Credential(e).Resolve(ctx, r); err != nil {
			return "", "", "", fmt.Errorf("reading the YouTube grant: %w", err)
		}
	}
	return vals[0], vals[1], vals[2], nil
}

// ForgetGrant drops the grant's secrets from r's cache, so a reconnected account's new refresh
// token is read on the next task.
func ForgetGrant(s backfill.Settings, r backfill.SecretResolver) {
	if r == nil {
		return
	}
	names := make([]string, 0, len(grantEnvs))
	for _, e := range grantEnvs {
		if n := s.Credential(e).Secret; n != "" {
			names = append(names, n)
		}
	}
	r.Forget(names...)
}

// errNoGrant is why a YouTube task cannot run on an instance deployed without the grant.
var errNoGrant = errors.New("the YouTube grant is not configured: set YOUTUBE_CLIENT_ID_SECRET, YOUTUBE_CLIENT_SECRET_SECRET and YOUTUBE_REFRESH_TOKEN_SECRET")

// NewFetcher implements backfill.Source.
func (Source) NewFetcher(d backfill.Deps) backfill.Fetcher { return NewLazy(d) }

// Lazy is the instance's one YouTube Analytics client, the source's fetcher: built on the first
// query (its secrets read then, once), shared by every concurrent request so that they share
// one OAuth token source, and rebuilt only when the grant is refused, so a reconnected
// channel's new refresh token is read without a redeploy. A failed build is not kept: the next
// query tries again.
type Lazy struct {
	d backfill.Deps

	mu sync.Mutex // serialises builds
	yt *YouTube
}

// NewLazy returns the lazy client over d's settings.
func NewLazy(d backfill.Deps) *Lazy {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Lazy{d: d}
}

// Fetch runs the task's query.
func (l *Lazy) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	var q YouTubeQuery
	if err := backfill.Request(t, &q, "a youtube query"); err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	return l.Query(ctx, q)
}

// Query runs q on the shared client. A client that cannot be built is a Transient error: the
// secrets or the deployment can be fixed while the task waits in the queue.
func (l *Lazy) Query(ctx context.Context, q YouTubeQuery) (*sources.Result, error) {
	yt, err := l.client(ctx)
	if err != nil {
		return nil, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	res, err := yt.Query(ctx, q)
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(yt)
	}
	return res, err
}

func (l *Lazy) client(ctx context.Context) (*YouTube, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.yt != nil {
		return l.yt, nil
	}
	s := l.d.Settings
	if !GrantConfigured(s) {
		return nil, errNoGrant
	}
	yc := YouTubeConfig{TokenURL: s.Text(EnvTokenURL), BaseURL: s.Text(EnvAPIBaseURL), HTTPTimeout: l.d.APITimeout,
		Now: l.d.Now, Logger: l.d.Logger, Transport: l.d.Transport}
	var err error
	if yc.ClientID, yc.ClientSecret, yc.RefreshToken, err = Grant(ctx, s, l.d.Secrets); err != nil {
		return nil, err
	}
	// The client and its token source outlive this request.
	yt, err := NewYouTube(context.WithoutCancel(ctx), yc)
	if err != nil {
		return nil, err
	}
	l.yt = yt
	return yt, nil
}

// drop forgets yt (unless another request already replaced it) and the grant's secrets.
func (l *Lazy) drop(yt *YouTube) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.yt != yt {
		return
	}
	l.yt = nil
	ForgetGrant(l.d.Settings, l.d.Secrets)
	l.d.Logger.Warn("the YouTube grant was refused; its secrets will be read again on the next query")
}
