package serverankings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/columnsets"
	"github.com/pipelinekit/pipelinekit/shared/signin"
)

// Who may read what (docs/sign-in.md). With sign-in on (DECK_AUTH=firebase):
//
//	the page and its scripts (/, /index.html, /deck/*.js, /deck/*.css)  anyone: they carry no data
//	/rankings, /rankings/{r}, /tweets                                  any signed-in person
//	/recent_views?user_id=U                                             U signed in, or a viewtoken for U
//	/me, /column_sets                                                   the signed-in person, their own only
//	/deck/backfills, /deck/health, POST /deck/history                   signed-in people whose verified
//	                                                                    email is in DECK_BACKFILL_ADMINS
//
// With sign-in off (the default, and the local stack's tests) nothing changes from before it:
// the function is reachable only by run.invoker holders, and /me and /column_sets answer 404.

// Auth modes (DECK_AUTH).
const (
	AuthOff      = "off"
	AuthFirebase = "firebase"
)

// SignIn is the deck's sign-in configuration.
type SignIn struct {
	// Mode is AuthOff or AuthFirebase (DECK_AUTH).
	Mode string
	// APIKey is the Identity Platform web API key the page signs in with (DECK_FIREBASE_API_KEY):
	// it identifies the project to Google's sign-in endpoints and is no secret
	// (https://firebase.google.com/docs/projects/api-keys).
	APIKey string
	// Emulator is the Auth emulator's host:port (FIREBASE_AUTH_EMULATOR_HOST), locally only.
	Emulator string
	// BackfillAdmins are the verified emails that see the backfills panel (DECK_BACKFILL_ADMINS):
	// Terraform derives them from backfill_invokers' user: members, the people who may start
	// backfills.
	BackfillAdmins []string
	// Database is the Firestore database column sets are kept in (DECK_DATABASE).
	Database string
}

type userKey struct{}

// UserFrom returns the signed-in user a request carries.
func UserFrom(ctx context.Context) (signin.User, bool) {
	u, ok := ctx.Value(userKey{}).(signin.User)
	return u, ok
}

// ColumnSets is what /column_sets reads and writes; *columnsets.Store in production.
type ColumnSets interface {
	List(ctx context.Context, uid string) ([]columnsets.Set, error)
	Put(ctx context.Context, uid, name string, cols []string) (columnsets.Set, error)
	Delete(ctx context.Context, uid, name string) error
}

// Accounts enforces sign-in in front of the deck and the API and serves /me and /column_sets.
type Accounts struct {
	Verifier signin.Verifier // nil: sign-in is off
	Sets     ColumnSets
	Admins   map[string]bool // lower-cased emails
	Log      *slog.Logger
}

// publicPath reports whether p (without the /ServeRankings prefix) is the page or a static
// asset of it: the only answers a browser gets before it has signed in.
func publicPath(p string) bool {
	if p == "/" || p == "/index.html" {
		return true
	}
	return strings.HasPrefix(p, "/deck/") && (strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css"))
}

func adminPath(p string) bool {
	return p == "/deck/backfills" || strings.HasPrefix(p, "/deck/backfills/") || p == "/deck/health" || p == historyPath
}

// historyPath starts a column's history (shared/deck/history.go): an x_search backfill, so only
// those allowed to start backfills may.
const historyPath = "/deck/history"

// Wrap returns next behind the sign-in rules above.
func (a *Accounts) Wrap(next http.Handler) http.Handler {
	if a.Verifier == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := strings.TrimPrefix("/"+strings.Trim(r.URL.Path, "/"), "/"+EntryPoint)
			if p == "/me" || p == "/column_sets" || strings.HasPrefix(p, "/column_sets/") {
				writeJSON(w, r, http.StatusNotFound, ErrorResponse{Error: "sign-in is off on this deck (DECK_AUTH)"}, "")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/"+EntryPoint)
		if p == "" {
			p = "/"
		}
		if publicPath(p) {
			next.ServeHTTP(w, r)
			return
		}
		tok, err := signin.Bearer(r)
		if err == nil && tok == "" {
			err = &signin.Error{Reason: "sign in first: this deck needs a Firebase ID token (Authorization: Bearer ID_TOKEN)"}
		}
		var u signin.User
		if err == nil {
			u, err = a.Verifier.Verify(r.Context(), tok)
		}
		if err != nil {
			if !signin.IsRefused(err) {
				a.log().ErrorContext(r.Context(), "verifying an ID token", "error", err)
				writeJSON(w, r, http.StatusServiceUnavailable, ErrorResponse{Error: "sign-in could not be checked; try again"}, "")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="deck"`)
			writeJSON(w, r, http.StatusUnauthorized, ErrorResponse{Error: err.Error()}, "")
			return
		}
		if adminPath(p) && !a.admin(u) {
			msg := "the backfills panel is for those allowed to start backfills"
			if p == historyPath {
				msg = "loading a column's history starts a backfill: only those allowed to start backfills may (DECK_BACKFILL_ADMINS)"
			}
			writeJSON(w, r, http.StatusForbidden, ErrorResponse{Error: msg}, "")
			return
		}
		ctx := context.WithValue(r.Context(), userKey{}, u)
		r = r.WithContext(ctx)
		switch {
		case p == "/me":
			a.me(w, r, u)
		case p == "/column_sets" || strings.HasPrefix(p, "/column_sets/"):
			a.columnSets(w, r, u, strings.TrimPrefix(strings.TrimPrefix(p, "/column_sets"), "/"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (a *Accounts) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

func (a *Accounts) admin(u signin.User) bool {
	return u.EmailVerified && u.Email != "" && a.Admins[strings.ToLower(u.Email)]
}

// MeResponse is the answer of /me.
type MeResponse struct {
	UID       string `json:"uid"`
	Email     string `json:"email,omitempty"`
	Backfills bool   `json:"backfills"` // may see the backfills panel
}

func (a *Accounts) me(w http.ResponseWriter, r *http.Request, u signin.User) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, r, http.StatusMethodNotAllowed, ErrorResponse{Error: "use GET"}, "")
		return
	}
	writeJSON(w, r, http.StatusOK, MeResponse{UID: u.UID, Email: u.Email, Backfills: a.admin(u)}, "private, no-cache")
}

// ColumnSetsResponse is the answer of GET /column_sets.
type ColumnSetsResponse struct {
	Sets []columnsets.Set `json:"sets"`
}

// PutColumnSet is the body of PUT /column_sets/{name}.
type PutColumnSet struct {
	Columns []string `json:"columns"`
}

// columnSets serves GET /column_sets, PUT and DELETE /column_sets/{name}: the user's own only,
// as the uid comes from the verified token and never from the request.
func (a *Accounts) columnSets(w http.ResponseWriter, r *http.Request, u signin.User, name string) {
	var (
		body any
		err  error
	)
	// An answer that depends on the token: no shared cache may keep it.
	w.Header().Set("Vary", "Authorization")
	switch {
	case name == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		var sets []columnsets.Set
		sets, err = a.Sets.List(r.Context(), u.UID)
		body = ColumnSetsResponse{Sets: sets}
	case name != "" && r.Method == http.MethodPut:
		var in PutColumnSet
		if in, err = readPut(w, r); err == nil {
			body, err = a.Sets.Put(r.Context(), u.UID, name, in.Columns)
		}
	case name != "" && r.Method == http.MethodDelete:
		err = a.Sets.Delete(r.Context(), u.UID, name)
		body = struct {
			Deleted string `json:"deleted"`
		}{name}
	default:
		allow := "GET, HEAD"
		if name != "" {
			allow = "PUT, DELETE"
		}
		w.Header().Set("Allow", allow)
		writeJSON(w, r, http.StatusMethodNotAllowed, ErrorResponse{Error: "use " + allow}, "")
		return
	}
	var bad *columnsets.BadParam
	switch {
	case errors.As(err, &bad):
		writeJSON(w, r, http.StatusBadRequest, ErrorResponse{Error: bad.Error(), Param: bad.Param}, "")
	case err != nil:
		a.log().ErrorContext(r.Context(), "column sets", "method", r.Method, "error", err)
		writeJSON(w, r, http.StatusServiceUnavailable, ErrorResponse{Error: "column sets are unavailable; try again"}, "")
	default:
		writeJSON(w, r, http.StatusOK, body, "private, no-cache")
	}
}

// readPut decodes a PUT body of at most columnsets.MaxBodyBytes.
func readPut(w http.ResponseWriter, r *http.Request) (PutColumnSet, error) {
	var in PutColumnSet
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, columnsets.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return in, &columnsets.BadParam{Param: "body", Reason: fmt.Sprintf("longer than %d bytes", columnsets.MaxBodyBytes)}
	}
	if err != nil {
		return in, &columnsets.BadParam{Param: "body", Reason: "could not be read"}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, &columnsets.BadParam{Param: "body", Reason: "not {\"columns\": [\"...\"]}"}
	}
	if in.Columns == nil {
		return in, &columnsets.BadParam{Param: "columns", Reason: "required"}
	}
	return in, nil
}

// SignedInViews lets a signed-in user read their own recent views, and otherwise asks next (the
// viewtoken check): the uid comes from the verified ID token, so nobody reads another's views
// without a token minted for that user.
type SignedInViews struct{ Next ViewsAuthorizer }

// AuthorizeViews implements ViewsAuthorizer.
func (s SignedInViews) AuthorizeViews(r *http.Request, user string) error {
	if u, ok := UserFrom(r.Context()); ok && u.UID == user {
		return nil
	}
	if r.Header.Get(ViewsTokenHeader) == "" {
		if u, ok := UserFrom(r.Context()); ok {
			return &AuthError{Status: http.StatusForbidden, Reason: fmt.Sprintf("signed in as %s: a user reads only their own recent views (or holds a %s for the other)", u.UID, ViewsTokenHeader)}
		}
	}
	return s.Next.AuthorizeViews(r, user)
}
