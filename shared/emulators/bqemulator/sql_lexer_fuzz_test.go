package bqemulator

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzLex feeds the SQL lexer arbitrary text (it returns tokens or an error, never panics), and
// checks that a string literal spelling src's runes as \U escapes and a bytes literal spelling
// its bytes as \x and octal escapes decode back to src.
func FuzzLex(f *testing.F) {
	for _, s := range []string{`SELECT 'a\x41\101\u00e9\U0001F600'`, `b'\xff'`, `'\x4'`, `'\u12'`, `'\777'`, `r'\x41'`,
		`"""tri\nple"""`, "SELECT `p.d.t` -- c\n", `'\`, "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = lex(src)

		var str, byt, want strings.Builder
		str.WriteString("'")
		for _, r := range src {
			fmt.Fprintf(&str, `\U%08X`, r)
			want.WriteRune(r)
		}
		str.WriteString("'")
		byt.WriteString("b'")
		for i := 0; i < len(src); i++ {
			if i%2 == 0 {
				fmt.Fprintf(&byt, `\x%02x`, src[i])
			} else {
				fmt.Fprintf(&byt, `\%03o`, src[i])
			}
		}
		byt.WriteString("'")
		if toks, err := lex(str.String()); err != nil || len(toks) != 1 || toks[0].text != want.String() {
			t.Errorf("lex(%s) = %v, %v; want one string %q", str.String(), toks, err, want.String())
		}
		if toks, err := lex(byt.String()); err != nil || len(toks) != 1 || toks[0].kind != tkBytes || toks[0].text != src {
			t.Errorf("lex(%s) = %v, %v; want bytes %q", byt.String(), toks, err, src)
		}
	})
}
