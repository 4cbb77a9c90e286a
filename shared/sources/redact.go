package sources

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Redacted replaces a credential's value in errors, failure reasons and log lines.
const Redacted = "REDACTED"

// withheld replaces a whole message when replacing the credentials in it left one standing
// (a credential that the marker itself helps spell, such as "ED" or "aREDACTED").
const withheld = "message withheld: it quotes a credential"

// MaxRedactBody caps the part of an error body that is redacted (and so may be quoted).
const MaxRedactBody = 64 << 10

// Redactor removes credential values from text that leaves the source: error messages, failure
// reasons and log lines. APIs hand back URLs (next links, redirects, error pages) holding the
// credentials they were sent, encoded any way they like, so a value is matched byte by byte in
// any mix of spellings: raw, percent-escaped (any hex case, "%25" nested to any depth, "+" or
// "%2B" for a space), Go- or JSON-quoted (backslash escapes, \xHH, \uHHHH, surrogate pairs, nested) and
// HTML entities. Matching more than was meant only costs a message some text. A nil *Redactor
// leaves text as it is.
type Redactor struct {
	secrets []string
}

// NewRedactor returns a Redactor for the non-empty values, or nil when there are none.
func NewRedactor(values ...string) *Redactor {
	var r Redactor
	for _, v := range values {
		if v != "" {
			r.secrets = append(r.secrets, v)
		}
	}
	if len(r.secrets) == 0 {
		return nil
	}
	return &r
}

// String returns s with every spelling of every credential replaced by Redacted. Replacing
// can make the marker and its neighbours spell a credential; then it replaces again, and
// withholds the message when that does not converge.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for range 4 {
		out, changed := r.replace(s)
		if !changed {
			return out
		}
		s = out
	}
	if _, changed := r.replace(withheld); !changed {
		return withheld
	}
	return ""
}

// error returns err with its message redacted. errors.Is still sees through it (sentinels
// such as ErrHostNotAllowed or context.DeadlineExceeded carry no credential) but errors.As
// does not, so no caller can reach an unredacted message in the chain.
func (r *Redactor) error(err error) error {
	if r == nil || err == nil {
		return err
	}
	return &redactedError{msg: r.String(err.Error()), err: err}
}

// SourceError returns a failure of Stream with its reason and message redacted: a copy of a
// *Error, whose Error() also redacts the whole line (a credential could straddle the reason
// and the message), or any other error redacted as error does.
func (r *Redactor) SourceError(err error) error {
	if r == nil || err == nil {
		return err
	}
	se, ok := err.(*Error)
	if !ok {
		return r.error(err)
	}
	out := *se
	out.Reason = r.String(se.Reason)
	out.Err = r.error(se.Err)
	out.redact = r
	return &out
}

// redactedError is an error whose message had its credentials removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// replace replaces the leftmost-longest matches of any credential in s.
func (r *Redactor) replace(s string) (string, bool) {
	var b strings.Builder
	changed := false
	last := 0
	for i := 0; i < len(s); {
		end := -1
		for _, v := range r.secrets {
			if e := matchAt(s, i, v); e > end {
				end = e
			}
		}
		if end <= i {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(Redacted)
		last, i, changed = end, end, true
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// matchAt returns the end of the longest spelling of v that starts at s[i], or -1. It runs the
// spellings side by side: at[j] holds the positions in s reached having spelled v[:j].
func matchAt(s string, i int, v string) int {
	if s[i] != v[0] && !strings.ContainsRune("%+\\&", rune(s[i])) {
		return -1 // the common case, and no allocation
	}
	at := make([][]int, len(v)+1)
	at[0] = []int{i}
	for j := 0; j < len(v); j++ {
		for _, p := range at[j] {
			for _, st := range steps(s, p, v, j) {
				at[j+st.n] = addPos(at[j+st.n], st.end)
			}
		}
	}
	end := -1
	for _, p := range at[len(v)] {
		end = max(end, p)
	}
	return end
}

// step is one spelling: n bytes of the value spelled by s[p:end].
type step struct{ n, end int }

// steps returns the spellings at s[p:] of the value's next byte v[j] (or, for an escaped
// rune, of its next rune).
func steps(s string, p int, v string, j int) []step {
	if p >= len(s) {
		return nil
	}
	c := v[j]
	var out []step
	if s[p] == c {
		out = append(out, step{1, p + 1})
	}
	switch s[p] {
	case '+':
		if c == ' ' {
			out = append(out, step{1, p + 1})
		}
	case '%':
		// "%HH", and "%25...25HH" for a value escaped more than once.
		k := p + 1
		for {
			if h, ok := hexAt(s, k, 2); ok && (byte(h) == c || h == '+' && c == ' ') {
				out = append(out, step{1, k + 2})
			}
			if !strings.HasPrefix(s[k:], "25") {
				break
			}
			k += 2
		}
	case '\\':
		// Any run of backslashes: quoting nests ("\"" quoted again is "\\\"").
		k := p
		for k < len(s) && s[k] == '\\' {
			k++
		}
		if c == '\\' {
			// A run of backslashes spells one backslash at some depth of quoting.
			for q := p + 1; q <= k; q++ {
				out = append(out, step{1, q})
			}
		}
		if k == len(s) {
			break
		}
		if s[k] == c || simpleEscape(s[k]) == c {
			out = append(out, step{1, k + 1})
		}
		switch s[k] {
		case 'x':
			if h, ok := hexAt(s, k+1, 2); ok && byte(h) == c {
				out = append(out, step{1, k + 3})
			}
		case 'u', 'U':
			out = append(out, runeEscape(s, k, v, j)...)
		}
	case '&':
		out = append(out, entity(s, p, c)...)
	}
	return out
}

// simpleEscape is the byte a one-letter backslash escape stands for, or 0.
func simpleEscape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'v':
		return '\v'
	}
	return 0
}

// runeEscape matches \uHHHH, a \uHHHH\uHHHH surrogate pair or \UHHHHHHHH at s[k-1:] (s[k] is
// the u) against the rune starting at v[j].
func runeEscape(s string, k int, v string, j int) []step {
	r, size := utf8.DecodeRuneInString(v[j:])
	if r == utf8.RuneError && size <= 1 {
		// An invalid byte: only a \u00HH of that byte value can stand for it.
		r, size = rune(v[j]), 1
	}
	var out []step
	if s[k] == 'U' {
		if h, ok := hexAt(s, k+1, 8); ok && rune(h) == r {
			out = append(out, step{size, k + 9})
		}
		return out
	}
	h, ok := hexAt(s, k+1, 4)
	if !ok {
		return nil
	}
	if rune(h) == r {
		out = append(out, step{size, k + 5})
	}
	if hi, lo := utf16.EncodeRune(r); hi != utf8.RuneError && rune(h) == hi {
		// The low half follows after its own run of backslashes.
		q := k + 5
		n := 0
		for q < len(s) && s[q] == '\\' {
			q++
			n++
		}
		if n > 0 && q < len(s) && s[q] == 'u' {
			if h2, ok := hexAt(s, q+1, 4); ok && rune(h2) == lo {
				out = append(out, step{size, q + 5})
			}
		}
	}
	return out
}

// entities are the named HTML entities an error page may use for URL bytes.
var entities = map[string]byte{"&amp;": '&', "&lt;": '<', "&gt;": '>', "&quot;": '"', "&apos;": '\''}

// entity matches an HTML entity at s[p:] (s[p] is the &) standing for c.
func entity(s string, p int, c byte) []step {
	for name, b := range entities {
		if b == c && strings.HasPrefix(s[p:], name) {
			return []step{{1, p + len(name)}}
		}
	}
	if !strings.HasPrefix(s[p:], "&#") {
		return nil
	}
	k, base := p+2, 10
	if k < len(s) && (s[k] == 'x' || s[k] == 'X') {
		k, base = k+1, 16
	}
	n, q := 0, k
	for q < len(s) && q-k < 8 && digit(s[q], base) >= 0 {
		n = n*base + digit(s[q], base)
		q++
	}
	if q == k || q >= len(s) || s[q] != ';' || n != int(c) {
		return nil
	}
	return []step{{1, q + 1}}
}

// hexAt reads n hex digits at s[k:].
func hexAt(s string, k, n int) (int, bool) {
	if k < 0 || k+n > len(s) {
		return 0, false
	}
	v := 0
	for i := k; i < k+n; i++ {
		d := digit(s[i], 16)
		if d < 0 {
			return 0, false
		}
		v = v*16 + d
	}
	return v, true
}

// digit is c's value as a digit in base (10 or 16), or -1.
func digit(c byte, base int) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case base == 16 && 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case base == 16 && 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// addPos adds p to the set ps.
func addPos(ps []int, p int) []int {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}
