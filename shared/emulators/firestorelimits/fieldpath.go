package firestorelimits

import (
	"fmt"
	"strings"
)

// splitFieldPath parses a field path as the API writes it (update masks, transforms, index
// configurations): segments separated by dots, each either a simple name (letters, digits and
// underscores, not starting with a digit) or a name in backticks in which a backslash escapes
// the next character. "*" alone, as an exemption names every field, is returned as one segment.
func splitFieldPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty field path")
	}
	var segs []string
	for i := 0; i < len(p); {
		var seg strings.Builder
		if p[i] == '`' {
			i++
			closed := false
			for i < len(p) {
				c := p[i]
				if c == '\\' && i+1 < len(p) {
					seg.WriteByte(p[i+1])
					i += 2
					continue
				}
				i++
				if c == '`' {
					closed = true
					break
				}
				seg.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("field path %q: unterminated backtick", p)
			}
		} else {
			j := strings.IndexByte(p[i:], '.')
			if j < 0 {
				j = len(p) - i
			}
			seg.WriteString(p[i : i+j])
			i += j
		}
		if seg.Len() == 0 {
			return nil, fmt.Errorf("field path %q: empty segment", p)
		}
		segs = append(segs, seg.String())
		if i < len(p) {
			if p[i] != '.' {
				return nil, fmt.Errorf("field path %q: want a dot after a quoted segment", p)
			}
			i++
			if i == len(p) {
				return nil, fmt.Errorf("field path %q: ends with a dot", p)
			}
		}
	}
	return segs, nil
}
