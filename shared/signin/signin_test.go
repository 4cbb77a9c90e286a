package signin

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBearer(t *testing.T) {
	at := "Bearer " + strings.Repeat("t", MaxIDTokenLen-len("Bearer "))
	for _, tc := range []struct {
		name, header, want string
		refused            bool
	}{
		{"none", "", "", false},
		{"bearer", "Bearer abc", "abc", false},
		{"at the bound", at, at[len("Bearer "):], false},
		{"one past the bound", at + "t", "", true},
		{"basic", "Basic abc", "", true},
		{"empty token", "Bearer ", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := Bearer(r)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
			if IsRefused(err) != tc.refused {
				t.Errorf("refused = %v (%v), want %v", IsRefused(err), err, tc.refused)
			}
		})
	}
}

func TestCheckEmulatorHost(t *testing.T) {
	for host, ok := range map[string]bool{"127.0.0.1:9099": true, "localhost:9099": true, "[::1]:9099": true,
		"auth.example.com:9099": false, "10.0.0.1:9099": false, "127.0.0.1": false} {
		if err := CheckEmulatorHost(host); (err == nil) != ok {
			t.Errorf("CheckEmulatorHost(%q) = %v, want ok=%v", host, err, ok)
		}
	}
}

// unsignedToken is a token as the Auth emulator mints it: alg none, no signature.
func unsignedToken(project, uid string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	claims := `{"iss":"https://securetoken.google.com/` + project + `","aud":"` + project + `","sub":"` + uid +
		`","user_id":"` + uid + `","auth_time":` + itoa(now) + `,"iat":` + itoa(now) + `,"exp":` + itoa(now+3600) +
		`,"firebase":{"sign_in_provider":"google.com","identities":{}}}`
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// An emulator's unsigned token is refused when FIREBASE_AUTH_EMULATOR_HOST is not set: what a
// deployed function sees.
func TestUnsignedTokenRefusedWithoutEmulator(t *testing.T) {
	t.Setenv(EmulatorHostEnv, "")
	v, err := NewFirebase(context.Background(), "demo-pipelinekit", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), unsignedToken("demo-pipelinekit", "alice"))
	if !IsRefused(err) {
		t.Fatalf("Verify(unsigned token) = %v, want a refusal", err)
	}
	if !strings.Contains(err.Error(), "RS256") && !strings.Contains(err.Error(), "alg") && !strings.Contains(err.Error(), "kid") {
		t.Errorf("refusal %q does not say the token is not RS256-signed", err)
	}
}

func TestVerifyRefusesOverlongToken(t *testing.T) {
	t.Setenv(EmulatorHostEnv, "")
	v, err := NewFirebase(context.Background(), "demo-pipelinekit", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), strings.Repeat("x", MaxIDTokenLen+1)); !IsRefused(err) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Verify(one past MaxIDTokenLen) = %v, want a refusal naming the bound", err)
	}
}
