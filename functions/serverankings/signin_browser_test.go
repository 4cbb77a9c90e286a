package serverankings

import (
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/columnsets"
	"github.com/pipelinekit/pipelinekit/shared/deck"
	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/signin"
	"github.com/pipelinekit/pipelinekit/shared/signin/authemu"
)

// TestColumnsFollowThePerson: in Chromium, a person signs in on the Auth emulator, adds columns,
// and a second browser profile (a fresh user-data-dir, as another device) signing in as the same
// person finds the same columns; a third person finds none of them.
func TestColumnsFollowThePerson(t *testing.T) {
	host := authemu.Start(t, "../..")
	t.Setenv(signin.EmulatorHostEnv, host)
	b1 := deckcheck.NewBrowser(t)

	api, store := serve(t)
	api.Close()
	fs, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	v, err := signin.NewFirebase(t.Context(), authemu.Project, func(k string) string {
		if k == signin.EmulatorHostEnv {
			return host
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := deck.New(deck.Config{DefaultKeyword: "gcp", Window: "1d", SignIn: &deck.SignIn{APIKey: "fake-api-key", Emulator: "http://" + host}})
	if err != nil {
		t.Fatal(err)
	}
	acc := &Accounts{Verifier: v, Sets: columnsets.NewStore(fs, nil), Admins: map[string]bool{}}
	srv := httptest.NewServer(acc.Wrap(WithDeck(NewHandler(store, Config{Views: SignedInViews{Next: testViews}}, nil), d)))
	t.Cleanup(srv.Close)

	signIn := func(b *deckcheck.Browser, email string) {
		t.Helper()
		b.Open(srv.URL + "/")
		b.WaitFor("the emulator's sign-in", `!!document.getElementById('sign-in-emulator')`)
		b.Type("#sign-in-email", email, "#sign-in-emulator")
		b.WaitFor("signed in as "+email, `(document.getElementById('account-who')||{}).textContent === `+jsString(email))
		b.WaitFor("the deck's columns", `document.querySelectorAll('section[data-col]').length > 0`)
	}
	// TODO(h25b): the search-term rule decides what these columns show; here only that they
	// follow the person.
	added := []string{"Pub/Sub", "데이터"}
	signIn(b1, "person@example.com")
	for _, q := range added {
		b1.Type("#search-input", q, "#search button")
		b1.WaitFor("the column "+q, `!!document.querySelector('section[data-col='+JSON.stringify(`+jsString("q:"+q)+`)+']')`)
	}
	var want []string
	b1.Eval(`Array.from(document.querySelectorAll('section[data-col]'), (s) => s.dataset.col)`, &want)
	// Saves are debounced: wait until the server has taken the last one, every column.
	b1.WaitFor("the server to hold the set", `(window.deckAccountState.savedColumns || []).join('\n') === `+jsString(strings.Join(want, "\n")))

	b2 := deckcheck.NewBrowser(t)
	signIn(b2, "person@example.com")
	for _, q := range added {
		b2.WaitFor("the column "+q+" on the second profile", `!!document.querySelector('section[data-col='+JSON.stringify(`+jsString("q:"+q)+`)+']')`)
	}
	var got []string
	b2.Eval(`Array.from(document.querySelectorAll('section[data-col]'), (s) => s.dataset.col)`, &got)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("second profile's columns = %q, want %q", got, want)
	}

	b3 := deckcheck.NewBrowser(t)
	signIn(b3, "someone.else@example.com")
	var other []string
	b3.Eval(`Array.from(document.querySelectorAll('section[data-col]'), (s) => s.dataset.col)`, &other)
	for _, c := range other {
		if strings.HasPrefix(c, "q:Pub") || c == "q:데이터" {
			t.Errorf("another person sees %q", c)
		}
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
