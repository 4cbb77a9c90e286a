package tasksemulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	jwksPath      = "/oauth2/v3/certs"
	tokenIssuer   = "https://accounts.google.com"
	tokenLifetime = time.Hour
)

// Claims are the claims of a token the emulator attaches to an HTTP target
// request, shaped like a Google-signed ID token.
type Claims struct {
	Issuer        string `json:"iss"`
	Audience      string `json:"aud"`
	AuthorizedBy  string `json:"azp"`
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	IssuedAt      int64  `json:"iat"`
	Expiry        int64  `json:"exp"`
	// Scope is set only on the stand-in for an OAuth access token (oauth_token).
	Scope string `json:"scope,omitempty"`
}

// keySet holds the signing key, generated on first use so that servers that
// never sign pay nothing.
type keySet struct {
	once sync.Once
	key  *rsa.PrivateKey
	kid  string
	err  error
}

func newKeySet(key *rsa.PrivateKey) *keySet { return &keySet{key: key} }

func (k *keySet) get() (*rsa.PrivateKey, string, error) {
	k.once.Do(func() {
		if k.key == nil {
			k.key, k.err = rsa.GenerateKey(rand.Reader, 2048)
			if k.err != nil {
				k.err = fmt.Errorf("generating the OIDC signing key: %w", k.err)
				return
			}
		}
		sum := sha256.Sum256(k.key.PublicKey.N.Bytes())
		k.kid = fmt.Sprintf("%x", sum[:10])
	})
	return k.key, k.kid, k.err
}

// mintToken signs the token for an attempt. The audience defaults to the
// target URL, as OidcToken.audience documents.
func (s *Server) mintToken(a *authSpec, targetURL string) (string, error) {
	now := s.clock.Now()
	c := Claims{
		Issuer:        tokenIssuer,
		Audience:      a.audience,
		AuthorizedBy:  subjectFor(a.email),
		Subject:       subjectFor(a.email),
		Email:         a.email,
		EmailVerified: true,
		IssuedAt:      now.Unix(),
		Expiry:        now.Add(tokenLifetime).Unix(),
	}
	if c.Audience == "" {
		c.Audience = targetURL
	}
	if !a.oidc {
		// No real OAuth access token can be minted offline; a signed JWT carrying the scope stands in.
		c.Audience = "https://oauth2.googleapis.com/token"
		c.Scope = a.scope
		if c.Scope == "" {
			c.Scope = "https://www.googleapis.com/auth/cloud-platform"
		}
	}
	return s.sign(c)
}

// subjectFor derives a stable numeric subject from an email, as Google's
// service accounts have a numeric unique ID.
func subjectFor(email string) string {
	h := fnv.New64a()
	h.Write([]byte(email))
	return "1" + strconv.FormatUint(h.Sum64(), 10)
}

func (s *Server) sign(c Claims) (string, error) {
	key, kid, err := s.keys.get()
	if err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", fmt.Errorf("encoding token header: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encoding token claims: %w", err)
	}
	signingInput := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return signingInput + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWKS returns the public signing keys as a JSON Web Key Set, the document
// served at JWKSURL.
func (s *Server) JWKS() ([]byte, error) {
	key, kid, err := s.keys.get()
	if err != nil {
		return nil, err
	}
	e := big.NewInt(int64(key.PublicKey.E)).Bytes()
	return json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": b64(key.PublicKey.N.Bytes()), "e": b64(e),
	}}})
}

// VerifyOIDC checks a token's RS256 signature against the server's key, its
// issuer, audience and lifetime (on the server's clock) and returns its claims.
func (s *Server) VerifyOIDC(token, audience string) (Claims, error) {
	key, kid, err := s.keys.get()
	if err != nil {
		return Claims{}, err
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("verifying token: not a JWT")
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Claims{}, fmt.Errorf("decoding token header: %w", err)
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(rawHeader, &hdr); err != nil {
		return Claims{}, fmt.Errorf("decoding token header: %w", err)
	}
	if hdr.Alg != "RS256" || hdr.Kid != kid {
		return Claims{}, fmt.Errorf("verifying token: unexpected alg %q or kid %q", hdr.Alg, hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("decoding token signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return Claims{}, fmt.Errorf("verifying token signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("decoding token claims: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, fmt.Errorf("decoding token claims: %w", err)
	}
	now := s.clock.Now().Unix()
	switch {
	case c.Issuer != tokenIssuer:
		return c, fmt.Errorf("verifying token: issuer %q, want %q", c.Issuer, tokenIssuer)
	case c.Audience != audience:
		return c, fmt.Errorf("verifying token: audience %q, want %q", c.Audience, audience)
	case now >= c.Expiry:
		return c, fmt.Errorf("verifying token: expired at %d (now %d)", c.Expiry, now)
	}
	return c, nil
}

// httpRoutes serves the HTTP/1.1 side of the port: the JWKS document.
func (s *Server) httpRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+jwksPath, func(w http.ResponseWriter, r *http.Request) {
		doc, err := s.JWKS()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
	return mux
}
