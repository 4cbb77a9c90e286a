// Package writekeys is the write keys of CollectEvents: a key names one app, the origins whose
// pages may send with it, and its rate. A key is publishable: it is meant to sit in a page, so
// all it allows is sending that app's events from those origins, at that rate. Keys are stored
// hashed (SHA-256 of the whole key: the key is 32 random bytes, so a fast hash is enough; there
// is nothing to guess) under their public id, and read through a per-instance cache whose TTL
// bounds how long a revoked key keeps working.
//
// Reference: docs/collect.md.
package writekeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// Prefix starts every write key, so that one found in a page or a log is recognisable.
const Prefix = "wk_"

// Bounds of a key and its record.
const (
	// MaxKeyLen is the longest write key read from a request: Prefix, a 16-hex-digit id, "_" and
	// 43 base64url characters of secret make 63; anything longer is malformed, refused before
	// any lookup.
	MaxKeyLen = 63
	// MaxOrigins is the most origins one key allows: the list is read on every request.
	MaxOrigins = 20
	// MaxOriginLen bounds one origin (scheme, host and port).
	MaxOriginLen = 256
	// MaxRatePerSec is the highest rate a key may be given, in requests per second across all
	// instances.
	MaxRatePerSec = 10_000
	// MaxBurst is the largest burst a key may be given, in requests.
	MaxBurst = 100_000
)

var keyShape = regexp.MustCompile(`^wk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$`)

// Key is the stored record of one write key. The key itself is never stored, only its hash.
type Key struct {
	// ID is the key's public id, the Firestore document id.
	ID string `firestore:"-" json:"id"`
	// App is the app whose events the key sends (shared/event's app name).
	App string `firestore:"app" json:"app"`
	// Origins are the page origins (scheme://host[:port]) that may send with the key. Empty: a
	// server key, refused to any request that carries an Origin header (a browser's).
	Origins []string `firestore:"origins" json:"origins"`
	// RatePerSec and Burst are the key's budget across all instances (requests per second, and
	// the most at once).
	RatePerSec float64 `firestore:"rate_per_sec" json:"rate_per_sec"`
	Burst      int     `firestore:"burst" json:"burst"`
	// Hash is the hex SHA-256 of the whole key.
	Hash      string    `firestore:"hash" json:"-"`
	Revoked   bool      `firestore:"revoked" json:"revoked"`
	CreatedAt time.Time `firestore:"created_at" json:"created_at"`
	// RevokedAt is when the key was revoked (zero while it is not).
	RevokedAt time.Time `firestore:"revoked_at" json:"revoked_at,omitzero"`
	// Note says what the key is for; free text for people.
	Note string `firestore:"note" json:"note,omitempty"`
}

// Errors of Parse and of a lookup. Their messages are what the caller is told: they never
// include the key.
var (
	ErrMalformed = errors.New("write key is malformed")
	ErrUnknown   = errors.New("write key is unknown")
	ErrRevoked   = errors.New("write key is revoked")
)

// Parse returns the public id of a key of the right shape.
func Parse(key string) (id string, err error) {
	if len(key) > MaxKeyLen {
		return "", ErrMalformed
	}
	m := keyShape.FindStringSubmatch(key)
	if m == nil {
		return "", ErrMalformed
	}
	return m[1], nil
}

// Hash returns the stored form of key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Matches reports whether key is the key of record k, in constant time.
func (k Key) Matches(key string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(key)), []byte(k.Hash)) == 1
}

// New returns a new key for rec's settings and the record to store (rec with its ID, Hash and
// CreatedAt filled in).
func New(rec Key, now time.Time) (key string, out Key, err error) {
	if err := rec.Validate(); err != nil {
		return "", Key{}, err
	}
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Key{}, fmt.Errorf("reading random bytes for a key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Key{}, fmt.Errorf("reading random bytes for a key: %w", err)
	}
	rec.ID = hex.EncodeToString(id[:])
	key = Prefix + rec.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.Hash = Hash(key)
	rec.CreatedAt = now.UTC()
	return key, rec, nil
}

// Validate reports what is wrong with a record's settings, or nil.
func (k Key) Validate() error {
	if err := event.ValidApp(k.App); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if len(k.Origins) > MaxOrigins {
		return fmt.Errorf("origins: %d, over the limit of %d", len(k.Origins), MaxOrigins)
	}
	for _, o := range k.Origins {
		if err := ValidOrigin(o); err != nil {
			return err
		}
	}
	if !(k.RatePerSec > 0 && k.RatePerSec <= MaxRatePerSec) {
		return fmt.Errorf("rate_per_sec: %v, must be over 0 and at most %d", k.RatePerSec, MaxRatePerSec)
	}
	if k.Burst < 1 || k.Burst > MaxBurst {
		return fmt.Errorf("burst: %d, must be from 1 to %d", k.Burst, MaxBurst)
	}
	return nil
}

// ValidOrigin reports why o is not an origin as browsers send it in the Origin header
// (scheme "://" host [":" port], lower case, nothing after), or nil. The Fetch standard
// serializes an origin exactly so (https://fetch.spec.whatwg.org/#origin-header), so allowed
// origins are compared as strings.
func ValidOrigin(o string) error {
	if len(o) > MaxOriginLen {
		return fmt.Errorf("origin %q: longer than %d characters", o, MaxOriginLen)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		o != u.Scheme+"://"+u.Host || strings.ToLower(o) != o {
		return fmt.Errorf("origin %q: must be http(s)://host[:port] in lower case, with no path", o)
	}
	return nil
}

// AllowsOrigin reports whether a request with the Origin header origin ("" when it has none)
// may use the key: a key with origins allows exactly those (and requests with no Origin, which
// are not a browser's cross-origin requests); a server key allows only requests with none.
func (k Key) AllowsOrigin(origin string) bool {
	if origin == "" {
		return true
	}
	for _, o := range k.Origins {
		if o == origin {
			return true
		}
	}
	return false
}
