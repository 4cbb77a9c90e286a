package streamtweets

import (
	"context"
	"fmt"
	"strings"
	"sync"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
)

// SecretToken reads the X bearer token from a Secret Manager secret version on first use and
// keeps it for the life of the instance: the token changes rarely and every run needs it, so
// one read per instance spares a Secret Manager call every minute.
type SecretToken struct {
	name string
	opts []option.ClientOption

	mu     sync.Mutex // serialises reads; a failed read is not kept, the next run tries again
	client *secretmanager.Client
	token  string
}

// NewSecretToken returns a SecretToken for the secret version name
// (projects/P/secrets/S/versions/latest); opts are passed to the Secret Manager client, which is
// created on the first Token call.
func NewSecretToken(name string, opts ...option.ClientOption) *SecretToken {
	return &SecretToken{name: name, opts: opts}
}

// Token returns the bearer token, reading the secret on the first call after creation or Forget.
func (s *SecretToken) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token, nil
	}
	if s.client == nil {
		// The client outlives this request: it must not be tied to the request's context.
		c, err := secretmanager.NewClient(context.WithoutCancel(ctx), s.opts...)
		if err != nil {
			return "", fmt.Errorf("creating Secret Manager client: %w", err)
		}
		s.client = c
	}
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s.name})
	if err != nil {
		return "", fmt.Errorf("reading the X bearer token from %s: %w", s.name, err)
	}
	// A secret written with `echo` ends with a newline, which X would refuse as a bad token.
	tok := strings.TrimSpace(string(resp.GetPayload().GetData()))
	if tok == "" {
		return "", fmt.Errorf("reading the X bearer token from %s: the secret is empty", s.name)
	}
	s.token = tok
	return tok, nil
}

// Forget drops the cached token so the next Token call reads the secret again; the Streamer
// calls it when X refuses the token, so a rotated secret is picked up without a redeploy.
func (s *SecretToken) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// Close closes the Secret Manager client, if one was created.
func (s *SecretToken) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	if err != nil {
		return fmt.Errorf("closing Secret Manager client: %w", err)
	}
	return nil
}
