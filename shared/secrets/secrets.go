// Package secrets reads secret values from Secret Manager and keeps them for the life of the
// instance: a function reads its credentials on its first request, not on every one, and a
// Secret Manager outage after that does not stop it.
//
// A failed read is never kept: the next Resolve tries again. Forget drops a value so a rotated
// secret is read again without a redeploy (for example after an API refuses the old one).
//
// Reference: docs/configuration.md.
package secrets

import (
	"context"
	"fmt"
	"strings"
	"sync"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/config"
)

// CheckName reports whether name is a secret version name,
// projects/PROJECT/secrets/SECRET/versions/VERSION, so a configuration can be refused at start-up
// rather than on the first read.
func CheckName(name string) error { return config.CheckSecretName(name) }

// Resolver reads secret versions and caches their values; it is safe for concurrent use.
type Resolver struct {
	opts []option.ClientOption

	// mu is held across a read, so concurrent first requests wait for one read instead of each
	// making their own.
	mu     sync.Mutex
	client *secretmanager.Client
	values map[string]string
}

// New returns a Resolver whose Secret Manager client, created on the first Resolve, takes opts.
// Nothing is dialled here.
func New(opts ...option.ClientOption) *Resolver {
	return &Resolver{opts: opts, values: map[string]string{}}
}

// Resolve returns the value of the secret version name (projects/P/secrets/S/versions/V),
// reading it on the first call and after Forget. Surrounding white space is trimmed: a secret
// written with `echo` ends with a newline, which no API accepts as part of a credential.
func (r *Resolver) Resolve(ctx context.Context, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.values[name]; ok {
		return v, nil
	}
	if r.client == nil {
		// The client outlives this request: it must not be tied to the request's context.
		c, err := secretmanager.NewClient(context.WithoutCancel(ctx), r.opts...)
		if err != nil {
			return "", fmt.Errorf("creating Secret Manager client: %w", err)
		}
		r.client = c
	}
	resp, err := r.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", name, err)
	}
	v := strings.TrimSpace(string(resp.GetPayload().GetData()))
	if v == "" {
		return "", fmt.Errorf("reading secret %s: the secret is empty", name)
	}
	r.values[name] = v
	return v, nil
}

// Forget drops the cached values of names, so the next Resolve of each reads it again.
func (r *Resolver) Forget(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		delete(r.values, n)
	}
}

// Close closes the Secret Manager client, if one was created.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil
	}
	err := r.client.Close()
	r.client = nil
	if err != nil {
		return fmt.Errorf("closing Secret Manager client: %w", err)
	}
	return nil
}
