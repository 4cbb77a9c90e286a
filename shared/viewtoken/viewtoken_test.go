package viewtoken

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	key   = []byte("0123456789abcdef0123456789abcdef")
	other = []byte("fedcba9876543210fedcba9876543210")
	now   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func mint(t *testing.T, k []byte, user string, exp time.Time) string {
	t.Helper()
	tok, err := Mint(k, user, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestVerify(t *testing.T) {
	good := mint(t, key, "u1", now.Add(time.Minute))
	body, mac, _ := strings.Cut(strings.TrimPrefix(good, prefix), ".")
	forgedBody := prefix + b64.EncodeToString([]byte("1900000000:u2"))
	tests := []struct {
		name, tok, user string
		at              time.Time
		want            Kind
	}{
		{name: "valid", tok: good, user: "u1", at: now},
		{name: "missing", tok: "", user: "u1", at: now, want: Missing},
		{name: "another user's token", tok: good, user: "u2", at: now, want: WrongUser},
		{name: "expired exactly at its expiry", tok: good, user: "u1", at: now.Add(time.Minute), want: Expired},
		{name: "a second before its expiry", tok: good, user: "u1", at: now.Add(time.Minute - time.Second)},
		{name: "another key", tok: mint(t, other, "u1", now.Add(time.Minute)), user: "u1", at: now, want: BadSignature},
		{name: "forged claims with an old mac", tok: forgedBody + "." + mac, user: "u2", at: now, want: BadSignature},
		{name: "lifetime exactly the maximum", tok: mint(t, key, "u1", now.Add(MaxLifetime)), user: "u1", at: now},
		{name: "lifetime a second past the maximum", tok: mint(t, key, "u1", now.Add(MaxLifetime+time.Second)), user: "u1", at: now, want: TooLong},
		{name: "not rv1", tok: "rv2." + body + "." + mac, user: "u1", at: now, want: Malformed},
		{name: "no mac", tok: prefix + body, user: "u1", at: now, want: Malformed},
		{name: "short mac", tok: prefix + body + "." + mac[:10], user: "u1", at: now, want: Malformed},
		{name: "padded base64", tok: prefix + body + "=." + mac, user: "u1", at: now, want: Malformed},
		{name: "one byte past the length bound", tok: good + strings.Repeat("A", MaxLen+1-len(good)), user: "u1", at: now, want: Malformed},
		{name: "no expiry", tok: signed(prefix + b64.EncodeToString([]byte(":u1"))), user: "u1", at: now, want: Malformed},
		{name: "expiry with a sign", tok: signed(prefix + b64.EncodeToString([]byte("+1900000000:u1"))), user: "u1", at: now, want: Malformed},
		{name: "empty user", tok: signed(prefix + b64.EncodeToString([]byte("1900000000:"))), user: "", at: now, want: Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(key, tt.tok, tt.user, tt.at)
			if got := kindOf(err); got != tt.want || (err == nil) != (tt.want == 0) {
				t.Errorf("Verify(%q, %q) = %v (kind %d), want kind %d", tt.tok, tt.user, err, got, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), string(key)) || strings.Contains(err.Error(), mac)) {
				t.Errorf("Verify error %q names the key or the mac", err)
			}
		})
	}
}

// signed signs body with key, for tests of claims a minter could never produce.
func signed(body string) string { return body + "." + b64.EncodeToString(sign(key, body)) }

func TestLengthBounds(t *testing.T) {
	longest := strings.Repeat("é", MaxUserIDLen/2) // 128 bytes
	tok := mint(t, key, longest, now.Add(time.Minute))
	if err := Verify(key, tok, longest, now); err != nil {
		t.Errorf("Verify of a %d-byte user id = %v, want nil", len(longest), err)
	}
	if len(tok) > MaxLen {
		t.Errorf("the longest valid token is %d bytes, over MaxLen %d", len(tok), MaxLen)
	}
	if _, err := Mint(key, longest+"x", now.Add(time.Minute)); err == nil {
		t.Errorf("Mint of a %d-byte user id = nil error, want one", len(longest)+1)
	}
	atBound := strings.Repeat("A", MaxLen)
	if got := kindOf(Verify(key, atBound, "u1", now)); got != Malformed {
		t.Errorf("Verify of %d bytes of junk = kind %d, want Malformed", MaxLen, got)
	}
}

func TestKeyBound(t *testing.T) {
	if _, err := Mint(key[:MinKeyLen-1], "u1", now); err == nil {
		t.Errorf("Mint with a %d-byte key = nil error, want one", MinKeyLen-1)
	}
	if _, err := Mint(key[:MinKeyLen], "u1", now); err != nil {
		t.Errorf("Mint with a %d-byte key = %v, want nil", MinKeyLen, err)
	}
}

func TestParse(t *testing.T) {
	got, err := Parse(mint(t, key, "u:1", now.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{User: "u:1", Expires: now.Add(time.Minute)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

// FuzzVerify feeds arbitrary tokens and user ids to the decoder: it must never panic, accept
// only what the key signed, and refuse everything else with an *Error.
func FuzzVerify(f *testing.F) {
	f.Add(mint(&testing.T{}, key, "u1", now.Add(time.Minute)), "u1")
	f.Add("rv1..", "u1")
	f.Add("rv1.MTkwMDAwMDAwMDp1MQ.", "")
	f.Add("rv1."+strings.Repeat(".", 20), "x")
	f.Fuzz(func(t *testing.T, tok, user string) {
		err := Verify(key, tok, user, now)
		if err == nil {
			c, perr := Parse(tok)
			if perr != nil || c.User != user {
				t.Fatalf("Verify(%q, %q) accepted a token Parse reads as %+v, %v", tok, user, c, perr)
			}
			again, merr := Mint(key, c.User, c.Expires)
			if merr != nil || again != tok {
				t.Fatalf("Verify(%q) accepted a token the key does not mint (%q)", tok, again)
			}
			return
		}
		if kindOf(err) == 0 {
			t.Fatalf("Verify(%q) = %v, not an *Error", tok, err)
		}
	})
}
