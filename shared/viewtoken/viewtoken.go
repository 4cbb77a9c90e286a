// Package viewtoken mints and checks the short-lived tokens that let a caller read one user's
// recent views from ServeRankings: an HMAC-SHA256, under a key kept in Secret Manager, over the
// user id and an expiry. Whoever can read that secret can mint a token for any user (the app's
// backend for its signed-in user, the local stack for its demo user, a service account granted
// secretAccessor on it); nobody else can read anyone's views.
//
// A token is "rv1." + base64url(expiry unix seconds ":" user id) + "." + base64url(mac), with
// no padding; the mac covers everything before its dot. It carries no secret: the user id and
// expiry are readable by whoever holds it.
//
// Reference: docs/rankings.md#who-reads-recent-views.
package viewtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of a token and its parts.
const (
	// MaxLen is the longest token checked, in bytes; a longer one is refused before any work.
	// The longest valid token (a 128-byte user id, a 10-digit expiry) is 4+180+1+43 = 228.
	MaxLen = 512
	// MaxUserIDLen is the longest user id, in bytes of UTF-8 (ServeRankings' limit for user_id).
	MaxUserIDLen = 128
	// MaxLifetime is the furthest in the future a token's expiry may be when it is checked: a
	// leaked token is worth an hour at most, whatever its minter asked for.
	MaxLifetime = time.Hour
	// MinKeyLen is the shortest key accepted: HMAC-SHA256's output size, as RFC 2104 advises.
	MinKeyLen = 32
)

const prefix = "rv1."

var b64 = base64.RawURLEncoding.Strict()

// Error is why a token is refused. Reason names what is wrong and never the key or the mac.
type Error struct {
	// Kind is what went wrong, for the answer's status: Missing, Malformed, BadSignature,
	// Expired, TooLong or WrongUser.
	Kind   Kind
	Reason string
}

func (e *Error) Error() string { return "recent-views token: " + e.Reason }

// Kind classifies a refused token.
type Kind int

// The kinds of refusal.
const (
	Missing Kind = iota + 1
	Malformed
	BadSignature
	Expired
	TooLong // expiry beyond MaxLifetime
	WrongUser
)

func refuse(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Reason: fmt.Sprintf(format, args...)}
}

// CheckKey reports whether key can sign tokens.
func CheckKey(key []byte) error {
	if len(key) < MinKeyLen {
		return fmt.Errorf("the recent-views token key is %d bytes; at least %d are needed", len(key), MinKeyLen)
	}
	return nil
}

// Mint returns a token for user that expires at exp.
func Mint(key []byte, user string, exp time.Time) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if err := checkUser(user); err != nil {
		return "", err
	}
	body := prefix + b64.EncodeToString([]byte(strconv.FormatInt(exp.Unix(), 10)+":"+user))
	return body + "." + b64.EncodeToString(sign(key, body)), nil
}

func sign(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

func checkUser(user string) error {
	switch {
	case user == "":
		return errors.New("the user id is empty")
	case len(user) > MaxUserIDLen:
		return fmt.Errorf("the user id is longer than %d bytes", MaxUserIDLen)
	case !utf8.ValidString(user):
		return errors.New("the user id is not valid UTF-8")
	}
	return nil
}

// Claims are what a token says.
type Claims struct {
	User    string
	Expires time.Time
}

// Parse decodes tok without checking its mac or expiry: for callers that only show who a
// token is for. Its errors are *Error of kind Missing or Malformed.
func Parse(tok string) (Claims, error) {
	c, _, _, err := parse(tok)
	return c, err
}

func parse(tok string) (c Claims, body string, mac []byte, err error) {
	switch {
	case tok == "":
		return c, "", nil, refuse(Missing, "no token")
	case len(tok) > MaxLen:
		return c, "", nil, refuse(Malformed, "longer than %d bytes", MaxLen)
	case !strings.HasPrefix(tok, prefix):
		return c, "", nil, refuse(Malformed, "not an rv1 token")
	}
	dot := strings.LastIndexByte(tok, '.')
	if dot < len(prefix) {
		return c, "", nil, refuse(Malformed, "no signature part")
	}
	body = tok[:dot]
	payload, err1 := b64.DecodeString(body[len(prefix):])
	mac, err2 := b64.DecodeString(tok[dot+1:])
	if err1 != nil || err2 != nil || len(mac) != sha256.Size {
		return c, "", nil, refuse(Malformed, "not base64url parts")
	}
	expS, user, ok := strings.Cut(string(payload), ":")
	exp, err := strconv.ParseInt(expS, 10, 64)
	if !ok || err != nil || exp <= 0 || strconv.FormatInt(exp, 10) != expS {
		return c, "", nil, refuse(Malformed, "no expiry")
	}
	if err := checkUser(user); err != nil {
		return c, "", nil, refuse(Malformed, "%v", err)
	}
	return Claims{User: user, Expires: time.Unix(exp, 0).UTC()}, body, mac, nil
}

// Verify checks tok with key at now and that it is for user; every refusal is an *Error.
// The mac is checked before the claims are believed, so a forged expiry or user is reported
// as a bad signature.
func Verify(key []byte, tok, user string, now time.Time) error {
	c, body, mac, err := parse(tok)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac, sign(key, body)) {
		return refuse(BadSignature, "the signature does not match (minted with another key, or altered)")
	}
	switch {
	case !now.Before(c.Expires):
		return refuse(Expired, "expired at %s", c.Expires.Format(time.RFC3339))
	case c.Expires.Sub(now) > MaxLifetime:
		return refuse(TooLong, "expires at %s, more than %s from now", c.Expires.Format(time.RFC3339), MaxLifetime)
	case c.User != user:
		return refuse(WrongUser, "the token is for another user")
	}
	return nil
}
