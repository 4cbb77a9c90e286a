package serverankings

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/secrets"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// ViewsTokenHeader carries the token that lets a request read one user's recent views. Not
// Authorization: deployed, Cloud Run reads that header for its own ID-token check of the
// caller, and a later sign-in may put the user's ID token there.
const ViewsTokenHeader = "X-Recent-Views-Token"

// ViewsAuthorizer decides who may read a user's recent views. AuthorizeViews returns nil to
// allow, an *AuthError to refuse (the caller is told why), or any other error when it could
// not decide (logged; the caller gets a 503). A sign-in that verifies ID tokens is another
// implementation, tried beside this one.
type ViewsAuthorizer interface {
	AuthorizeViews(r *http.Request, user string) error
}

// AuthError is a refused request: Status is 401 (no or no valid credential) or 403 (a valid
// one that does not cover what was asked).
type AuthError struct {
	Status int
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

// viewsOff is the default authorizer: with no key configured nobody reads anyone's views.
type viewsOff struct{}

func (viewsOff) AuthorizeViews(*http.Request, string) error {
	return &AuthError{Status: http.StatusForbidden, Reason: "recent views are off: ServeRankings has no token key (RECENT_VIEWS_KEY_SECRET)"}
}

// TokenAuthorizer allows a request whose ViewsTokenHeader holds a viewtoken for the user
// asked for, signed with the key Key returns.
type TokenAuthorizer struct {
	// Key returns the signing key; it is called per request, so it should cache (as
	// secrets.Resolver does).
	Key func(ctx context.Context) ([]byte, error)
	Now func() time.Time
}

// AuthorizeViews implements ViewsAuthorizer.
func (a TokenAuthorizer) AuthorizeViews(r *http.Request, user string) error {
	tok := r.Header.Get(ViewsTokenHeader)
	if tok == "" {
		return &AuthError{Status: http.StatusUnauthorized, Reason: fmt.Sprintf("recent views need a token for the user in the %s header", ViewsTokenHeader)}
	}
	key, err := a.Key(r.Context())
	if err != nil {
		return fmt.Errorf("reading the recent-views token key: %w", err)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	err = viewtoken.Verify(key, tok, user, now())
	var bad *viewtoken.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bad) && bad.Kind == viewtoken.WrongUser:
		return &AuthError{Status: http.StatusForbidden, Reason: fmt.Sprintf("%s: %s", ViewsTokenHeader, bad.Reason)}
	case errors.As(err, &bad):
		return &AuthError{Status: http.StatusUnauthorized, Reason: fmt.Sprintf("%s: %s", ViewsTokenHeader, bad.Reason)}
	}
	return err
}

// StaticKey returns a Key func for a key held in the configuration (RECENT_VIEWS_KEY, locally).
func StaticKey(key []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return key, nil }
}

// SecretKey returns a Key func reading the secret version name through r (cached for the
// instance's life by the resolver).
func SecretKey(r *secrets.Resolver, name string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		v, err := r.Resolve(ctx, name)
		if err != nil {
			return nil, err
		}
		key := []byte(v)
		if err := viewtoken.CheckKey(key); err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		return key, nil
	}
}

// viewsAuthorizer builds the authorizer the configuration names: the secret's key, the
// local key, or none (every request refused).
func viewsAuthorizer(cfg Config) ViewsAuthorizer {
	switch {
	case cfg.ViewsKeySecret != "":
		return TokenAuthorizer{Key: SecretKey(secrets.New(), cfg.ViewsKeySecret)}
	case cfg.ViewsKey != "":
		return TokenAuthorizer{Key: StaticKey([]byte(cfg.ViewsKey))}
	}
	return viewsOff{}
}
