package secrets_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/secrets"
	"github.com/pipelinekit/pipelinekit/shared/secrets/secretstest"
)

const (
	tokenName = "projects/p/secrets/youtube-refresh-token/versions/latest"
	otherName = "projects/p/secrets/youtube-client-id/versions/3"
)

func newServer(t *testing.T) *secretstest.Server {
	t.Helper()
	srv, err := secretstest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func newResolver(t *testing.T, srv *secretstest.Server) *secrets.Resolver {
	t.Helper()
	r := secrets.New(srv.ClientOptions()...)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return r
}

func TestResolveReadsOnceAndTrims(t *testing.T) {
	srv := newServer(t)
	srv.Set(tokenName, "1//refresh-token\n")
	srv.Set(otherName, "client-id")
	r := newResolver(t, srv)
	ctx := context.Background()

	// Many concurrent first requests share one read.
	var wg sync.WaitGroup
	got := make([]string, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = r.Resolve(ctx, tokenName) })
	}
	wg.Wait()
	for i := range got {
		if got[i] != "1//refresh-token" || errs[i] != nil {
			t.Errorf("Resolve(%s) #%d = %q, %v; want %q, nil", tokenName, i, got[i], errs[i], "1//refresh-token")
		}
	}
	if v, err := r.Resolve(ctx, otherName); v != "client-id" || err != nil {
		t.Errorf("Resolve(%s) = %q, %v; want client-id, nil", otherName, v, err)
	}
	for _, name := range []string{tokenName, otherName} {
		if n := srv.Accesses(name); n != 1 {
			t.Errorf("Accesses(%s) = %d, want 1", name, n)
		}
	}

	// Forget reads the rotated value.
	srv.Set(tokenName, "1//rotated")
	r.Forget(tokenName)
	if v, err := r.Resolve(ctx, tokenName); v != "1//rotated" || err != nil {
		t.Errorf("Resolve after Forget = %q, %v; want 1//rotated, nil", v, err)
	}
	if n := srv.Accesses(otherName); n != 1 {
		t.Errorf("Accesses(%s) after forgetting another secret = %d, want 1", otherName, n)
	}
}

func TestResolveErrorsAreNotCached(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*secretstest.Server)
		wantErr string
	}{
		{
			name:    "missing secret",
			setup:   func(*secretstest.Server) {},
			wantErr: "reading secret " + tokenName + ": rpc error: code = NotFound desc = Secret Version [" + tokenName + "] not found.",
		},
		{
			name: "empty secret",
			setup: func(s *secretstest.Server) {
				s.Set(tokenName, " \n")
			},
			wantErr: "reading secret " + tokenName + ": the secret is empty",
		},
		{
			name: "permission denied",
			setup: func(s *secretstest.Server) {
				s.FailNext(tokenName, status.Error(codes.PermissionDenied, "Permission 'secretmanager.versions.access' denied"))
				s.Set(tokenName, "ok")
			},
			wantErr: "code = PermissionDenied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			tt.setup(srv)
			r := newResolver(t, srv)
			_, err := r.Resolve(context.Background(), tokenName)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Resolve() error = %v, want one containing %q", err, tt.wantErr)
			}
			srv.Set(tokenName, "fixed")
			if v, err := r.Resolve(context.Background(), tokenName); v != "fixed" || err != nil {
				t.Errorf("Resolve() after the failure = %q, %v; want fixed, nil (a failure is not kept)", v, err)
			}
			if n := srv.Accesses(tokenName); n != 2 {
				t.Errorf("Accesses = %d, want 2", n)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"projects/p/secrets/s/versions/latest", true},
		{"projects/123/secrets/YOUTUBE_TOKEN/versions/7", true},
		{"projects/p/secrets/s", false},
		{"1//refresh-token", false},
		{"projects/p/secrets/s/versions/", false},
	}
	for _, tt := range tests {
		if err := secrets.CheckName(tt.name); (err == nil) != tt.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
