package httpjson

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/secrets"
)

// Secrets never travel in specs: a spec is stored with its job and copied into task bodies,
// shard names, backfill_rows.shard and status output. A spec names its credentials by Secret
// Manager resource (HTTPJSONSpec.Secrets) and the worker reads and adds them; anything in a
// URL, a header or a parameter that looks like a credential is refused, naming the field.

// credentialWords mark a header or query parameter name that carries a secret.
var credentialWords = []string{"auth", "token", "secret", "password", "passwd", "apikey", "api_key", "api-key",
	"cookie", "signature", "session", "credential", "appid", "app_id", "app-id", "access_key", "accesskey",
	"access-key", "private", "bearer", "jwt"}

// credentialTokens are whole words of a name that carry a secret: "key", "X-Access-Key",
// "client_secret", "sig".
var credentialTokens = map[string]bool{"key": true, "sig": true, "pass": true, "pwd": true}

var nameSeparators = regexp.MustCompile(`[^a-z0-9]+`)

// looksLikeCredentialName reports whether a header or query parameter name carries a secret:
// it holds one of credentialWords, or one of its words is or ends with "key" (apikey,
// subscription-key, x-access-key) or is a credential token.
func looksLikeCredentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, tok := range nameSeparators.Split(n, -1) {
		if credentialTokens[tok] || strings.HasSuffix(tok, "key") {
			return true
		}
	}
	return false
}

// credentialValue matches values that are credentials whatever their name: an auth scheme, a
// JWT, or a well-known key prefix (Stripe, Google, GitHub, Slack, AWS, GitLab, OpenAI-style).
var credentialValue = regexp.MustCompile(`(?i)^\s*(bearer|basic|digest|token|apikey|api-key)\s` +
	`|^eyJ[A-Za-z0-9_-]+\.` +
	`|^(sk|pk|rk)_(live|test)_` + `|^sk-[A-Za-z0-9_-]{8,}` +
	`|^AIza[0-9A-Za-z_-]{20,}` + `|^gh[pousr]_[A-Za-z0-9]{20,}` + `|^github_pat_` + `|^glpat-` +
	`|^xox[abpr]-` + `|^(AKIA|ASIA)[0-9A-Z]{16}$` + `|^-----BEGIN`)

// looksLikeCredentialValue reports whether a value is a credential by its shape.
func looksLikeCredentialValue(v string) bool { return credentialValue.MatchString(v) }

// secretPrefix is a header prefix: a scheme word and a space, never a value.
var secretPrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31} ?$`)

// secretName is a secret's resource name without a version.
var secretName = regexp.MustCompile(`^projects/[^/]+/secrets/[A-Za-z0-9_-]+$`)

// checkURLCredentials refuses user info, credential-named query parameters and
// credential-shaped query values in a spec's URL.
func checkURLCredentials(u *url.URL, field string) *backfill.FieldError {
	if u.User != nil {
		return backfill.FieldErrorf(field, "has credentials (user:password@); secrets never travel in specs: name them in secrets")
	}
	for name, values := range u.Query() {
		if looksLikeCredentialName(name) {
			return backfill.FieldErrorf(field, "query parameter %q looks like a credential; secrets never travel in specs: name it in secrets as {\"query\": %q, \"secret\": \"projects/.../secrets/...\"}", name, name)
		}
		for _, v := range values {
			if looksLikeCredentialValue(v) {
				return backfill.FieldErrorf(field, "the value of query parameter %q looks like a credential; secrets never travel in specs", name)
			}
		}
	}
	return nil
}

// checkParamCredentials refuses credential-shaped parameter values.
func checkParamCredentials(name string, values []string) *backfill.FieldError {
	for i, v := range values {
		if looksLikeCredentialValue(v) {
			return backfill.FieldErrorf(fmt.Sprintf("%sparams.%s[%d]", Name+".", name, i), "the value looks like a credential; secrets never travel in specs")
		}
	}
	return nil
}

// validateSecrets checks and normalizes the spec's secret references: each names a secret
// version (no version means latest) and exactly one place, a header not also in headers or a
// query parameter not also in the URL.
func (h *HTTPJSONSpec) validateSecrets(u *url.URL) *backfill.FieldError {
	seen := map[string]bool{}
	for i := range h.Secrets {
		ref := &h.Secrets[i]
		f := fmt.Sprintf("%s.secrets[%d]", Name, i)
		switch {
		case ref.Secret == "":
			return backfill.FieldErrorf(f+".secret", "missing: a Secret Manager resource such as projects/my-project/secrets/api-token")
		case secretName.MatchString(ref.Secret):
			ref.Secret += "/versions/latest"
		case secrets.CheckName(ref.Secret) != nil:
			return backfill.FieldErrorf(f+".secret", "is not a Secret Manager resource such as projects/my-project/secrets/api-token[/versions/N]")
		}
		if (ref.Header == "") == (ref.Query == "") {
			return backfill.FieldErrorf(f, "needs exactly one of header and query: where requests carry the secret")
		}
		if ref.Prefix != "" && (ref.Header == "" || !secretPrefix.MatchString(ref.Prefix)) {
			return backfill.FieldErrorf(f+".prefix", "must be a scheme word and a space such as \"Bearer \", before a header's secret")
		}
		var where string
		if ref.Header != "" {
			if !headerNamePattern.MatchString(ref.Header) {
				return backfill.FieldErrorf(f+".header", "is not a header name")
			}
			ref.Header = http.CanonicalHeaderKey(ref.Header)
			if _, ok := h.Headers[ref.Header]; ok {
				return backfill.FieldErrorf(f+".header", "header %s is also in headers", ref.Header)
			}
			where = "header " + ref.Header
		} else {
			if !paramNamePattern.MatchString(ref.Query) {
				return backfill.FieldErrorf(f+".query", "is not a query parameter name")
			}
			if u.Query().Has(ref.Query) {
				return backfill.FieldErrorf(f+".query", "query parameter %s is also in the URL", ref.Query)
			}
			where = "query " + ref.Query
		}
		if seen[where] {
			return backfill.FieldErrorf(f, "%s is given twice", where)
		}
		seen[where] = true
	}
	if len(h.Secrets) == 0 {
		h.Secrets = nil
	}
	return nil
}
