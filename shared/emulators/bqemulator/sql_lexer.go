package bqemulator

import (
	"strconv"
	"strings"
)

// tokKind classifies a BigQuery SQL token.
type tokKind int

const (
	tkIdent      tokKind = iota // bare identifier or keyword
	tkQuoted                    // `backticked` identifier (text unescaped)
	tkString                    // string literal (text is the value)
	tkBytes                     // bytes literal (text is the value)
	tkNumber                    // numeric literal
	tkParam                     // @name (text is the name)
	tkPositional                // ?
	tkSysVar                    // @@name
	tkPunct                     // operators and punctuation
	tkSpace                     // whitespace (collapsed)
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(kw string) bool   { return t.kind == tkIdent && strings.EqualFold(t.text, kw) }
func (t token) punct(p string) bool { return t.kind == tkPunct && t.text == p }

// lex splits BigQuery Standard SQL into tokens, dropping comments.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	n := len(src)
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			for i < n && strings.IndexByte(" \t\n\r\f", src[i]) >= 0 {
				i++
			}
			toks = append(toks, token{tkSpace, " "})
		case c == '#' || (c == '-' && i+1 < n && src[i+1] == '-'):
			for i < n && src[i] != '\n' {
				i++
			}
			toks = append(toks, token{tkSpace, " "})
		case c == '/' && i+1 < n && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errInvalidQuery("Syntax error: Unclosed comment")
			}
			i += end + 4
			toks = append(toks, token{tkSpace, " "})
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, errInvalidQuery("Syntax error: Unclosed identifier literal")
			}
			toks = append(toks, token{tkQuoted, src[i+1 : i+1+end]})
			i += end + 2
		case isStringStart(src, i):
			tok, next, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
			i = next
		case c == '@' && i+1 < n && src[i+1] == '@':
			j := i + 2
			for j < n && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tkSysVar, src[i+2 : j]})
			i = j
		case c == '@':
			j := i + 1
			for j < n && isIdentChar(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, errInvalidQuery("Syntax error: Unexpected \"@\"")
			}
			toks = append(toks, token{tkParam, src[i+1 : j]})
			i = j
		case c == '?':
			toks = append(toks, token{tkPositional, "?"})
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9' && !prevIsIdentLike(toks):
			j := i
			for j < n && (isIdentChar(src[j]) || src[j] == '.' || (src[j] == '+' || src[j] == '-') && (src[j-1] == 'e' || src[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tkNumber, src[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < n && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tkIdent, src[i:j]})
			i = j
		default:
			for _, op := range []string{"<=", ">=", "<>", "!=", "||", "<<", ">>", "=>"} {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{tkPunct, op})
					i += len(op)
					goto next
				}
			}
			toks = append(toks, token{tkPunct, string(c)})
			i++
		next:
		}
	}
	return toks, nil
}

func prevIsIdentLike(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.kind == tkIdent || t.kind == tkQuoted || t.punct(")") || t.punct("]")
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }

// isStringStart recognises ', ", and r/b/rb/br prefixed literals.
func isStringStart(src string, i int) bool {
	c := src[i]
	if c == '\'' || c == '"' {
		return true
	}
	if i > 0 && isIdentChar(src[i-1]) {
		return false
	}
	j := i
	for j < len(src) && j < i+2 && strings.IndexByte("rRbB", src[j]) >= 0 {
		j++
	}
	return j > i && j < len(src) && (src[j] == '\'' || src[j] == '"')
}

func lexString(src string, i int) (token, int, error) {
	raw, isBytes := false, false
	for src[i] != '\'' && src[i] != '"' {
		switch src[i] {
		case 'r', 'R':
			raw = true
		case 'b', 'B':
			isBytes = true
		}
		i++
	}
	q := src[i]
	delim := string(q)
	if strings.HasPrefix(src[i:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	i += len(delim)
	var b strings.Builder
	for {
		if i >= len(src) {
			return token{}, 0, errInvalidQuery("Syntax error: Unclosed string literal")
		}
		if strings.HasPrefix(src[i:], delim) {
			i += len(delim)
			break
		}
		c := src[i]
		if len(delim) == 1 && c == '\n' {
			return token{}, 0, errInvalidQuery("Syntax error: Unclosed string literal")
		}
		if c == '\\' && i+1 < len(src) {
			if raw {
				b.WriteByte(c)
				b.WriteByte(src[i+1])
				i += 2
				continue
			}
			i++
			switch e := src[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'x', 'X', 'u', 'U', '0', '1', '2', '3', '4', '5', '6', '7':
				// \xhh, \ooo (a byte), \uhhhh and \Uhhhhhhhh (a code point in UTF-8): the
				// escapes of https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#escape_sequences
				digits, base := 2, 16
				switch {
				case e == 'u':
					digits = 4
				case e == 'U':
					digits = 8
				case e >= '0' && e <= '7':
					digits, base = 3, 8
					i-- // the first digit is part of the value
				}
				if i+1+digits > len(src) {
					return token{}, 0, errInvalidQuery("Syntax error: Illegal escape sequence")
				}
				v, err := strconv.ParseUint(src[i+1:i+1+digits], base, 32)
				if err != nil {
					return token{}, 0, errInvalidQuery("Syntax error: Illegal escape sequence: \\%s", src[i:i+1+digits])
				}
				if e == 'u' || e == 'U' {
					b.WriteRune(rune(v))
				} else if v > 0xFF {
					return token{}, 0, errInvalidQuery("Syntax error: Illegal escape sequence")
				} else {
					b.WriteByte(byte(v))
				}
				i += 1 + digits
				continue
			default:
				b.WriteByte(e)
			}
			i++
			continue
		}
		b.WriteByte(c)
		i++
	}
	kind := tkString
	if isBytes {
		kind = tkBytes
	}
	return token{kind, b.String()}, i, nil
}
