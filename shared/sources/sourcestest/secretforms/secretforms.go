// Package secretforms spells a secret every way a message could carry it, for the tests of the
// sources' redaction.
//
// Reference: docs/sources.md
package secretforms

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SecretForms are the spellings of secret a message could carry, written out independently of
// the Redactor so that tests do not check the Redactor against itself: raw, query- and
// path-escaped, lower-case hex, every byte escaped, escaped twice, Go- and JSON-quoted.
func SecretForms(secret string) []string {
	var every strings.Builder
	for i := 0; i < len(secret); i++ {
		fmt.Fprintf(&every, "%%%02x", secret[i])
	}
	jsonQuoted, _ := json.Marshal(secret)
	forms := []string{
		secret,
		url.QueryEscape(secret),
		url.PathEscape(secret),
		lowerHex(url.QueryEscape(secret)),
		every.String(),
		url.QueryEscape(url.QueryEscape(secret)),
		url.PathEscape(url.QueryEscape(secret)),
		strings.TrimPrefix((&url.URL{Path: "/" + secret}).EscapedPath(), "/"),
		unquote(strconv.Quote(secret)),
		unquote(strconv.QuoteToASCII(secret)),
	}
	if utf8.ValidString(secret) {
		// JSON writes an invalid byte as U+FFFD: that spells nothing.
		forms = append(forms, unquote(string(jsonQuoted)))
	}
	out := forms[:0]
	seen := map[string]bool{}
	for _, f := range forms {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// lowerHex writes the hex digits of s's percent escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// unquote strips the quotes around a quoted string, keeping its escapes.
func unquote(q string) string {
	if len(q) < 2 {
		return q
	}
	return q[1 : len(q)-1]
}
