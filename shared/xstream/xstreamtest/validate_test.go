package xstreamtest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateRule(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{value: "cat has:images"},
		{value: `"hot dog" OR (puppy -is:retweet)`},
		{value: "from:XDevelopers"},
		{value: "#nowplaying lang:en"},
		{value: `"with \" escaped quote"`},
		{value: strings.Repeat("x", 512)},
		{value: strings.Repeat("x", 513), want: []string{"Rule '" + strings.Repeat("x", 513) + "' exceeds the maximum length of a rule. It is 513 characters while the maximum allowed is 512 (at position 1)"}},
		{value: "(cat OR dog", want: []string{"Unbalanced parentheses: '(' is not closed (at position 1)"}},
		{value: "cat)", want: []string{"Unbalanced parentheses: unexpected ')' (at position 4)"}},
		{value: `"hot dog`, want: []string{"Unbalanced quotes: the quoted phrase is not closed (at position 1)"}},
		{value: `hot"dog`, want: []string{"Unbalanced quotes: a quote inside a term (at position 4)"}},
		{value: "has:media", want: []string{"Rules must contain at least one positive, non-stopword clause (at position 1)"}},
		{value: "has:media is:retweet", want: []string{"Rules must contain at least one positive, non-stopword clause (at position 1)"}},
		{value: "-cat", want: []string{"Rules must contain a non-negation term (at position 1)", "Rules must contain at least one positive, non-stopword clause (at position 1)"}},
		{value: "-(cat OR dog)", want: []string{"Rules must contain a non-negation term (at position 1)", "Rules must contain at least one positive, non-stopword clause (at position 1)"}},
		{value: "plantains or tostones", want: []string{`Ambiguous use of or as a keyword. Use OR to logically join two clauses, or "or" to find occurrences of or in text (at position 11)`}},
		{value: `plantains "or" tostones`},
	}
	for _, tt := range tests {
		t.Run(tt.value[:min(len(tt.value), 30)], func(t *testing.T) {
			if diff := cmp.Diff(tt.want, validateRule(tt.value)); diff != "" {
				t.Errorf("validateRule(%q) mismatch (-want +got):\n%s", tt.value, diff)
			}
		})
	}
}
