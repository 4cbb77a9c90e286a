package serverankings

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/columnsets"
	"github.com/pipelinekit/pipelinekit/shared/deck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/signin"
)

// fakeVerifier accepts "tok-UID" (and "tok-UID-admin" with a verified admin email).
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, tok string) (signin.User, error) {
	uid, ok := strings.CutPrefix(tok, "tok-")
	if !ok {
		return signin.User{}, &signin.Error{Reason: "ID token: not one the fake signed"}
	}
	if u, ok := strings.CutSuffix(uid, "-admin"); ok {
		return signin.User{UID: u, Email: "Admin@Example.com", EmailVerified: true}, nil
	}
	return signin.User{UID: uid, Email: uid + "@example.com", EmailVerified: true}, nil
}

// signedIn serves ServeRankings' whole tree (page, API, backfills panel) with sign-in on.
func signedIn(t *testing.T) *httptest.Server {
	t.Helper()
	api, store := serve(t)
	api.Close()
	fs, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	backfill := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"jobs":[]}`)
	}))
	t.Cleanup(backfill.Close)
	d, err := deck.New(deck.Config{DefaultKeyword: "pipeline", BackfillURL: backfill.URL, SignIn: &deck.SignIn{APIKey: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	acc := &Accounts{Verifier: fakeVerifier{}, Sets: columnsets.NewStore(fs, nil), Admins: map[string]bool{"admin@example.com": true}}
	h := NewHandler(store, Config{CacheTTL: 0, Views: SignedInViews{Next: testViews}}, nil)
	srv := httptest.NewServer(acc.Wrap(WithDeck(h, d)))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Who may read what (signin.go's table), enforced.
func TestSignInRules(t *testing.T) {
	srv := signedIn(t)
	for _, tc := range []struct {
		method, path, tok string
		want              int
	}{
		{"GET", "/", "", 200},
		{"GET", "/ServeRankings/", "", 200},
		{"GET", "/deck/deck.js", "", 200},
		{"GET", "/deck/account.js", "", 200},
		{"GET", "/rankings/hashtags", "", 401},
		{"GET", "/rankings/hashtags", "forged", 401},
		{"GET", "/rankings/hashtags", "tok-alice", 200},
		{"GET", "/tweets?q=gcp", "", 401},
		{"GET", "/tweets?q=gcp", "tok-alice", 200},
		{"GET", "/recent_views?user_id=u1", "tok-u1", 200},
		{"GET", "/recent_views?user_id=u1", "tok-alice", 403},
		{"GET", "/recent_views?user_id=u1", "", 401},
		{"GET", "/me", "", 401},
		{"GET", "/me", "tok-alice", 200},
		{"GET", "/column_sets", "", 401},
		{"GET", "/column_sets", "tok-alice", 200},
		{"GET", "/deck/backfills", "tok-alice", 403},
		{"GET", "/deck/backfills", "tok-boss-admin", 200},
		{"GET", "/deck/health", "tok-alice", 403},
	} {
		t.Run(fmt.Sprintf("%s %s as %q", tc.method, tc.path, tc.tok), func(t *testing.T) {
			if got, body := call(t, tc.method, srv.URL+tc.path, tc.tok, ""); got != tc.want {
				t.Errorf("status %d, want %d: %s", got, tc.want, body)
			}
		})
	}
}

// A person's column sets follow the token, never a parameter, and stay within their bounds.
func TestColumnSets(t *testing.T) {
	srv := signedIn(t)
	put := func(tok, name string, cols []string) (int, string) {
		b, _ := json.Marshal(PutColumnSet{Columns: cols})
		return call(t, "PUT", srv.URL+"/column_sets/"+name, tok, string(b))
	}
	cols := []string{"q:Pub/Sub", "q:데이터", "rank:hashtags"}
	if st, body := put("tok-alice", "main", cols); st != 200 {
		t.Fatalf("PUT: %d %s", st, body)
	}
	list := func(tok string) []columnsets.Set {
		st, body := call(t, "GET", srv.URL+"/column_sets", tok, "")
		if st != 200 {
			t.Fatalf("GET: %d %s", st, body)
		}
		var r ColumnSetsResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		return r.Sets
	}
	got := list("tok-alice")
	if len(got) != 1 || got[0].Name != "main" {
		t.Fatalf("alice's sets = %+v", got)
	}
	if diff := cmp.Diff(cols, got[0].Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if bob := list("tok-bob"); len(bob) != 0 {
		t.Errorf("bob sees %+v, want none of alice's", bob)
	}
	// The count: MaxSets names fit, one more is refused naming the field.
	for i := 1; i < columnsets.MaxSets; i++ {
		if st, body := put("tok-alice", fmt.Sprintf("s%d", i), []string{"q:a"}); st != 200 {
			t.Fatalf("set %d of %d: %d %s", i+1, columnsets.MaxSets, st, body)
		}
	}
	st, body := put("tok-alice", "one-too-many", []string{"q:a"})
	if st != 400 || !strings.Contains(body, `"param":"name"`) {
		t.Errorf("set %d: %d %s, want 400 naming name", columnsets.MaxSets+1, st, body)
	}
	if st, body := put("tok-alice", "main", []string{"q:b"}); st != 200 {
		t.Errorf("replacing a set at the count bound: %d %s", st, body)
	}
	// The body: at the bound read, one past refused naming body.
	pad := func(n int) string {
		s := `{"columns":["q:a"]}`
		return s + strings.Repeat(" ", n-len(s))
	}
	if st, body := call(t, "PUT", srv.URL+"/column_sets/main", "tok-alice", pad(columnsets.MaxBodyBytes)); st != 200 {
		t.Errorf("body of %d bytes: %d %s", columnsets.MaxBodyBytes, st, body)
	}
	if st, body := call(t, "PUT", srv.URL+"/column_sets/main", "tok-alice", pad(columnsets.MaxBodyBytes+1)); st != 400 || !strings.Contains(body, `"param":"body"`) {
		t.Errorf("body of %d bytes: %d %s, want 400 naming body", columnsets.MaxBodyBytes+1, st, body)
	}
	if st, body := put("tok-alice", "main", make([]string, columnsets.MaxColumns+1)); st != 400 || !strings.Contains(body, `"param":"columns"`) {
		t.Errorf("%d columns: %d %s, want 400 naming columns", columnsets.MaxColumns+1, st, body)
	}
	if st, body := call(t, "DELETE", srv.URL+"/column_sets/s1", "tok-alice", ""); st != 200 {
		t.Errorf("DELETE: %d %s", st, body)
	}
	if n := len(list("tok-alice")); n != columnsets.MaxSets-1 {
		t.Errorf("after a delete alice has %d sets, want %d", n, columnsets.MaxSets-1)
	}
}

// With sign-in off the account endpoints are absent, and the rest is as before.
func TestSignInOff(t *testing.T) {
	api, _ := serve(t)
	srv := httptest.NewServer((&Accounts{}).Wrap(api.Config.Handler))
	t.Cleanup(srv.Close)
	for path, want := range map[string]int{"/me": 404, "/column_sets": 404, "/rankings/hashtags": 200} {
		if got, body := call(t, "GET", srv.URL+path, "", ""); got != want {
			t.Errorf("GET %s: %d, want %d: %s", path, got, want, body)
		}
	}
}
