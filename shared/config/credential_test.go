package config

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCredential(t *testing.T) {
	const version = "projects/p/secrets/token/versions/latest"
	tests := []struct {
		name     string
		env      map[string]string
		required bool
		want     Credential
		wantErr  string // "" for none
	}{
		{name: "unset", env: nil},
		{name: "unset, required", env: nil, required: true,
			wantErr: "TOKEN_SECRET: required: the secret version holding TOKEN (or, for local runs, TOKEN itself)"},
		{name: "secret", env: map[string]string{"TOKEN_SECRET": version}, want: Credential{Secret: version}},
		{name: "secret, deployed", env: map[string]string{"TOKEN_SECRET": version, "K_SERVICE": "f"}, want: Credential{Secret: version}},
		{name: "value, local", env: map[string]string{"TOKEN": "v4lue"}, want: Credential{Value: "v4lue"}},
		{name: "value, K_SERVICE empty", env: map[string]string{"TOKEN": "v4lue", "K_SERVICE": ""}, want: Credential{Value: "v4lue"}},
		{name: "value, deployed", env: map[string]string{"TOKEN": "v4lue", "K_SERVICE": "f"}, want: Credential{Value: "v4lue"},
			wantErr: "TOKEN: a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read TOKEN_SECRET"},
		{name: "both", env: map[string]string{"TOKEN": "v4lue", "TOKEN_SECRET": version}, want: Credential{Secret: version, Value: "v4lue"},
			wantErr: "TOKEN: set TOKEN_SECRET or TOKEN, not both"},
		{name: "malformed version", env: map[string]string{"TOKEN_SECRET": "token"}, want: Credential{Secret: "token"},
			wantErr: `TOKEN_SECRET: "token" is not a secret version name`},
		{name: "version without version", env: map[string]string{"TOKEN_SECRET": "projects/p/secrets/token"}, want: Credential{Secret: "projects/p/secrets/token"},
			wantErr: "is not a secret version name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := New(Map(tt.env))
			got := env.Credential("TOKEN", tt.required)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Credential (-want +got):\n%s", diff)
			}
			err := env.Err()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Err() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Err() = %v, want it to contain %q", err, tt.wantErr)
			}
			if got.Set() != (got.Secret != "" || got.Value != "") {
				t.Errorf("Set() = %v for %+v", got.Set(), got)
			}
			// The value never appears in a problem's text.
			if err != nil && tt.env["TOKEN"] != "" && strings.Contains(err.Error(), tt.env["TOKEN"]) {
				t.Errorf("Err() = %v quotes the credential's value", err)
			}
		})
	}
}

// versions is a SecretReader over a map of version names.
type versions map[string]string

func (v versions) Resolve(_ context.Context, name string) (string, error) {
	s, ok := v[name]
	if !ok {
		return "", fmt.Errorf("secret %s: not found", name)
	}
	return s, nil
}

func TestCredentialResolve(t *testing.T) {
	const version = "projects/p/secrets/token/versions/1"
	tests := []struct {
		name    string
		c       Credential
		r       SecretReader
		want    string
		wantErr string
	}{
		{name: "value", c: Credential{Value: "v4lue"}, want: "v4lue"},
		{name: "value needs no reader", c: Credential{Value: "v4lue"}, r: nil, want: "v4lue"},
		{name: "secret", c: Credential{Secret: version}, r: versions{version: "s3cret"}, want: "s3cret"},
		{name: "secret without a reader", c: Credential{Secret: version}, wantErr: "reading secret " + version + ": no Secret Manager resolver"},
		{name: "secret not found", c: Credential{Secret: version}, r: versions{}, wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Resolve(context.Background(), tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
