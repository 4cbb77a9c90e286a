package runbackfilltask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// YouTubeSource runs one YouTube Analytics query; *LazyYouTube and *sources.YouTube are ones.
type YouTubeSource interface {
	Query(ctx context.Context, q sources.YouTubeQuery) (*sources.Result, error)
}

// HTTPJSONSource streams one paginated JSON resource page by page; *sources.HTTPJSON is one.
type HTTPJSONSource interface {
	Stream(ctx context.Context, req sources.HTTPJSONRequest, fn func(sources.Page) error) (calls int, err error)
}

// SecretResolver reads secret versions; *secrets.Resolver is one.
type SecretResolver interface {
	Resolve(ctx context.Context, name string) (string, error)
	Forget(names ...string)
}

// errNoYouTubeGrant is why a YouTube task cannot run on an instance deployed without the grant.
var errNoYouTubeGrant = errors.New("the YouTube grant is not configured: set YOUTUBE_CLIENT_ID_SECRET, YOUTUBE_CLIENT_SECRET_SECRET and YOUTUBE_REFRESH_TOKEN_SECRET")

// LazyYouTube is the instance's one YouTube Analytics client: built on the first query (its
// secrets read then, once), shared by every concurrent request so that they share one OAuth
// token source, and rebuilt only when the grant is refused, so a reconnected channel's new
// refresh token is read without a redeploy. A failed build is not kept: the next query tries
// again.
type LazyYouTube struct {
	cfg     Config
	secrets SecretResolver
	base    sources.YouTubeConfig

	mu sync.Mutex // serialises builds
	yt *sources.YouTube
}

// NewLazyYouTube returns the lazy client for cfg's grant. resolver reads the grant's secrets
// (it may be nil when cfg holds the values themselves); base supplies the optional fields of
// sources.YouTubeConfig (Now, Logger, Transport), the rest comes from cfg.
func NewLazyYouTube(cfg Config, resolver SecretResolver, base sources.YouTubeConfig) *LazyYouTube {
	base.Logger = newLogger(base.Logger)
	return &LazyYouTube{cfg: cfg, secrets: resolver, base: base}
}

// Query runs q on the shared client. A client that cannot be built is a Transient error: the
// secrets or the deployment can be fixed while the task waits in the queue.
func (l *LazyYouTube) Query(ctx context.Context, q sources.YouTubeQuery) (*sources.Result, error) {
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

func (l *LazyYouTube) client(ctx context.Context) (*sources.YouTube, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.yt != nil {
		return l.yt, nil
	}
	if !l.cfg.YouTubeConfigured() {
		return nil, errNoYouTubeGrant
	}
	yc := l.base
	var err error
	if yc.ClientID, err = l.resolve(ctx, l.cfg.ClientID); err != nil {
		return nil, err
	}
	if yc.ClientSecret, err = l.resolve(ctx, l.cfg.ClientSecret); err != nil {
		return nil, err
	}
	if yc.RefreshToken, err = l.resolve(ctx, l.cfg.RefreshToken); err != nil {
		return nil, err
	}
	yc.TokenURL, yc.BaseURL, yc.HTTPTimeout = l.cfg.TokenURL, l.cfg.APIBaseURL, l.cfg.APITimeout
	// The client and its token source outlive this request.
	yt, err := sources.NewYouTube(context.WithoutCancel(ctx), yc)
	if err != nil {
		return nil, err
	}
	l.yt = yt
	return yt, nil
}

func (l *LazyYouTube) resolve(ctx context.Context, c Credential) (string, error) {
	if c.Secret == "" {
		return c.Value, nil
	}
	if l.secrets == nil {
		return "", fmt.Errorf("reading secret %s: no Secret Manager resolver", c.Secret)
	}
	v, err := l.secrets.Resolve(ctx, c.Secret)
	if err != nil {
		return "", fmt.Errorf("reading the YouTube grant: %w", err)
	}
	return v, nil
}

// drop forgets yt (unless another request already replaced it) and the grant's secrets.
func (l *LazyYouTube) drop(yt *sources.YouTube) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.yt != yt {
		return
	}
	l.yt = nil
	if l.secrets != nil {
		l.secrets.Forget(l.cfg.ClientID.Secret, l.cfg.ClientSecret.Secret, l.cfg.RefreshToken.Secret)
	}
	l.base.Logger.Warn("the YouTube grant was refused; its secrets will be read again on the next query")
}

// newLogger returns l, or slog.Default() when l is nil.
func newLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
