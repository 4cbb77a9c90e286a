// Package signin verifies the Firebase Authentication / Identity Platform ID tokens a signed-in
// deck sends (Authorization: Bearer ID_TOKEN, as Cloud Run's end-user authentication has it:
// https://cloud.google.com/run/docs/authenticating/end-users). A production token is an RS256
// JWT signed by securetoken@system.gserviceaccount.com, its iss
// https://securetoken.google.com/PROJECT and its aud PROJECT
// (https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library);
// the Firebase Admin SDK checks all of it and caches Google's public keys. The Auth emulator's
// tokens are unsigned and are accepted only when FIREBASE_AUTH_EMULATOR_HOST is set, which the
// SDK reads and Terraform never sets (https://firebase.google.com/docs/emulator-suite/connect_auth#admin_sdks).
//
// Reference: docs/sign-in.md.
package signin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"google.golang.org/api/option"
)

// EmulatorHostEnv names the Auth emulator (host:port); set, unsigned emulator tokens verify.
const EmulatorHostEnv = "FIREBASE_AUTH_EMULATOR_HOST"

// MaxIDTokenLen is the longest Authorization header value checked, in bytes; a longer one is
// refused before any parsing. A Firebase ID token is about 1 kB, and the custom claims it may
// carry are at most 1000 bytes (https://firebase.google.com/docs/auth/admin/custom-claims).
const MaxIDTokenLen = 4096

// User is who a verified token names.
type User struct {
	UID           string
	Email         string
	EmailVerified bool
}

// Error is a refused credential: the answer is a 401 with Reason, which never holds the token.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// Verifier checks an ID token and returns its user.
type Verifier interface {
	Verify(ctx context.Context, idToken string) (User, error)
}

// Bearer returns the ID token in r's Authorization header: "" with a nil error when there is no
// header, an *Error when it is not "Bearer TOKEN" or is longer than MaxIDTokenLen.
func Bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return "", nil
	case len(h) > MaxIDTokenLen:
		return "", &Error{Reason: fmt.Sprintf("Authorization: longer than %d bytes", MaxIDTokenLen)}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", &Error{Reason: "Authorization: not \"Bearer ID_TOKEN\""}
	}
	return strings.TrimSpace(tok), nil
}

// Firebase verifies tokens with the Firebase Admin SDK.
type Firebase struct{ c *auth.Client }

// NewFirebase returns a verifier for project's tokens. With FIREBASE_AUTH_EMULATOR_HOST set it
// must name this machine: emulator tokens are unsigned.
func NewFirebase(ctx context.Context, project string, getenv func(string) string) (*Firebase, error) {
	if h := getenv(EmulatorHostEnv); h != "" {
		if err := CheckEmulatorHost(h); err != nil {
			return nil, err
		}
	}
	// No credentials: verifying needs only Google's public keys (fetched without auth), and
	// locally the SDK talks to the emulator.
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, option.WithoutAuthentication())
	if err != nil {
		return nil, fmt.Errorf("creating the Firebase app for project %s: %w", project, err)
	}
	c, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating the Firebase Auth client for project %s: %w", project, err)
	}
	return &Firebase{c: c}, nil
}

// CheckEmulatorHost refuses an emulator host that is not a loopback host:port: a deployed
// function must never accept unsigned tokens because a variable points somewhere.
func CheckEmulatorHost(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%s %q: not host:port: %w", EmulatorHostEnv, hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q: the Auth emulator must run on this machine (localhost or a loopback address)", EmulatorHostEnv, hostport)
}

// Verify implements Verifier.
func (f *Firebase) Verify(ctx context.Context, idToken string) (User, error) {
	if len(idToken) > MaxIDTokenLen {
		return User{}, &Error{Reason: fmt.Sprintf("ID token: longer than %d bytes", MaxIDTokenLen)}
	}
	t, err := f.c.VerifyIDToken(ctx, idToken)
	switch {
	case err == nil:
	case auth.IsIDTokenInvalid(err) || auth.IsIDTokenRevoked(err) || auth.IsUserDisabled(err) || auth.IsUserNotFound(err):
		return User{}, &Error{Reason: "ID token: " + firstLine(err)}
	default:
		// Google's keys could not be fetched, or the emulator did not answer: not the caller's fault.
		return User{}, fmt.Errorf("verifying an ID token: %w", err)
	}
	u := User{UID: t.UID}
	if e, ok := t.Claims["email"].(string); ok {
		u.Email = e
	}
	if v, ok := t.Claims["email_verified"].(bool); ok {
		u.EmailVerified = v
	}
	if u.UID == "" {
		return User{}, &Error{Reason: "ID token: no subject"}
	}
	return u, nil
}

// firstLine is the SDK's reason without its link to the docs.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, "; see "); i > 0 {
		s = s[:i]
	}
	return s
}

// IsRefused reports whether err is a refused credential (401) rather than a failure to check.
func IsRefused(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// EmulatorURL returns the Auth emulator's base URL for host ("" for none).
func EmulatorURL(host string) string {
	if host == "" {
		return ""
	}
	return (&url.URL{Scheme: "http", Host: host}).String()
}
