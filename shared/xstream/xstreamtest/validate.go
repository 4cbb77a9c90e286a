package xstreamtest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxRuleLength is X's limit for a filtered-stream rule on the standard
// product (recorded: "the maximum allowed is 512").
const maxRuleLength = 512

// conjunctionRequired are operators X refuses on their own: a rule needs at
// least one standalone clause (a keyword, phrase, from:, #tag, ...).
var conjunctionRequired = []string{"has:", "is:", "lang:", "sample:", "place_country:"}

// validateRule returns X-style error details for value, none if X would
// accept it. It checks a few real rules, not X's whole grammar.
func validateRule(value string) []string {
	var details []string
	if n := utf8.RuneCountInString(value); n > maxRuleLength {
		details = append(details, fmt.Sprintf("Rule '%s' exceeds the maximum length of a rule. It is %d characters while the maximum allowed is %d (at position 1)", value, n, maxRuleLength))
	}
	toks, syntax := tokenize(value)
	details = append(details, syntax...)
	if len(syntax) > 0 {
		return details
	}
	positive, nonNegated := false, false
	for i, t := range toks {
		if t.text == "or" && !t.quoted && i > 0 && i < len(toks)-1 {
			details = append(details, fmt.Sprintf(`Ambiguous use of or as a keyword. Use OR to logically join two clauses, or "or" to find occurrences of or in text (at position %d)`, t.pos))
		}
		if t.negated || t.text == "OR" {
			continue
		}
		nonNegated = true
		if t.quoted || !hasAnyPrefix(t.text, conjunctionRequired) {
			positive = true
		}
	}
	if !nonNegated {
		details = append(details, "Rules must contain a non-negation term (at position 1)")
	}
	if !positive {
		details = append(details, "Rules must contain at least one positive, non-stopword clause (at position 1)")
	}
	return details
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}

// token is one clause of a rule.
type token struct {
	text    string
	pos     int // 1-based character position, as X reports it
	quoted  bool
	negated bool // by a leading '-' or an enclosing -( ... )
}

// tokenize splits a rule into clauses, tracking negation through
// parentheses, and reports unbalanced quotes or parentheses.
func tokenize(value string) ([]token, []string) {
	var (
		toks    []token
		negated []bool // per open parenthesis: is the group negated
		opens   []int  // positions of open parentheses
	)
	rs := []rune(value)
	inGroupNegation := func() bool {
		for _, n := range negated {
			if n {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(rs); {
		switch c := rs[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == ')':
			if len(negated) == 0 {
				return nil, []string{fmt.Sprintf("Unbalanced parentheses: unexpected ')' (at position %d)", i+1)}
			}
			negated, opens = negated[:len(negated)-1], opens[:len(opens)-1]
			i++
		case c == '(' || (c == '-' && i+1 < len(rs) && rs[i+1] == '('):
			neg := c == '-'
			if neg {
				i++
			}
			negated, opens = append(negated, neg), append(opens, i+1)
			i++
		default:
			start, neg := i, false
			if c == '-' {
				neg = true
				i++
			}
			quoted := i < len(rs) && rs[i] == '"'
			if quoted {
				end := i + 1
				for end < len(rs) && rs[end] != '"' {
					if rs[end] == '\\' {
						end++
					}
					end++
				}
				if end >= len(rs) {
					return nil, []string{fmt.Sprintf("Unbalanced quotes: the quoted phrase is not closed (at position %d)", i+1)}
				}
				i = end + 1
			} else {
				for i < len(rs) && rs[i] != ' ' && rs[i] != '\t' && rs[i] != '\n' && rs[i] != '(' && rs[i] != ')' {
					if rs[i] == '"' {
						return nil, []string{fmt.Sprintf("Unbalanced quotes: a quote inside a term (at position %d)", i+1)}
					}
					i++
				}
			}
			text := string(rs[start:i])
			if neg {
				text = text[1:]
			}
			toks = append(toks, token{text: text, pos: start + 1, quoted: quoted, negated: neg || inGroupNegation()})
		}
	}
	if len(opens) > 0 {
		return nil, []string{fmt.Sprintf("Unbalanced parentheses: '(' is not closed (at position %d)", opens[len(opens)-1])}
	}
	return toks, nil
}
