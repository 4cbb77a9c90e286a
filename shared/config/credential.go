package config

import (
	"context"
	"fmt"
	"regexp"
)

// secretVersionName is a Secret Manager secret version's resource name; the version is a
// number or an alias such as "latest".
var secretVersionName = regexp.MustCompile(`^projects/[^/]+/secrets/[A-Za-z0-9_-]+/versions/[A-Za-z0-9_-]+$`)

// CheckSecretName reports whether name is a secret version name,
// projects/PROJECT/secrets/SECRET/versions/VERSION, so a configuration is refused at start-up
// rather than on its first read.
func CheckSecretName(name string) error {
	if !secretVersionName.MatchString(name) {
		return fmt.Errorf("%q is not a secret version name such as projects/my-project/secrets/my-secret/versions/latest", name)
	}
	return nil
}

// Credential is a credential as configured: the Secret Manager version that holds it, or,
// for local runs, its value. At most one is set.
type Credential struct {
	Secret string // NAME_SECRET: a secret version name
	Value  string // NAME: the value itself
}

// Set reports whether either is.
func (c Credential) Set() bool { return c.Secret != "" || c.Value != "" }

// SecretReader reads a secret version by name; *secrets.Resolver is one.
type SecretReader interface {
	Resolve(ctx context.Context, name string) (string, error)
}

// Resolve reads the credential: its value, or its secret version through r.
func (c Credential) Resolve(ctx context.Context, r SecretReader) (string, error) {
	if c.Secret == "" {
		return c.Value, nil
	}
	if r == nil {
		return "", fmt.Errorf("reading secret %s: no Secret Manager resolver", c.Secret)
	}
	return r.Resolve(ctx, c.Secret)
}

// Deployed reports whether the function runs deployed: Cloud Run, and so Cloud Functions 2nd
// gen, sets K_SERVICE to the service's name
// (https://cloud.google.com/run/docs/container-contract#services-env-vars); set empty, it is not.
func (e *Env) Deployed() bool {
	v, _ := e.lookup("K_SERVICE")
	return v != ""
}

// Credential reads the credential NAME: NAME_SECRET names its Secret Manager version, what a
// deployed function reads, or NAME holds the value itself, for local runs only (a deployed
// function refuses it: anyone who can read the service's configuration would see it, and Cloud
// Run's guide advises against secrets in environment variables,
// https://cloud.google.com/run/docs/configuring/services/overview-environment-variables). Setting
// both is a problem; so is a malformed version name, and, when required, setting neither.
func (e *Env) Credential(name string, required bool) Credential {
	secretVar := name + "_SECRET"
	c := Credential{Secret: e.String(secretVar, ""), Value: e.String(name, "")}
	switch {
	case c.Secret != "" && c.Value != "":
		e.Fail(name, "set %s or %s, not both", secretVar, name)
	case c.Secret != "":
		if err := CheckSecretName(c.Secret); err != nil {
			e.Fail(secretVar, "%v", err)
		}
	case c.Value != "":
		if e.Deployed() {
			e.Fail(name, "a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read %s", secretVar)
		}
	case required:
		e.Fail(secretVar, "required: the secret version holding %s (or, for local runs, %s itself)", name, name)
	}
	return c
}
