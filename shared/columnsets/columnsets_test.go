package columnsets

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func cols(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("q:w%d", i)
	}
	return out
}

func TestBounds(t *testing.T) {
	long := "q:" + strings.Repeat("a", MaxColumnLen-2)
	for _, tc := range []struct {
		name, set string
		cols      []string
		param     string // "" allowed
	}{
		{"columns at the bound", "main", cols(MaxColumns), ""},
		{"columns one past", "main", cols(MaxColumns + 1), "columns"},
		{"column id at the bound", "main", []string{long}, ""},
		{"column id one past", "main", []string{"q:a", long + "b"}, "columns[1]"},
		{"repeated column", "main", []string{"q:a", "q:a"}, "columns[1]"},
		{"empty column", "main", []string{""}, "columns[0]"},
		{"control character", "main", []string{"q:a\nb"}, "columns[0]"},
		{"Pub/Sub and Korean", "main", []string{"q:Pub/Sub", "q:데이터"}, ""},
		{"name at the bound", strings.Repeat("n", MaxNameLen), nil, ""},
		{"name one past", strings.Repeat("n", MaxNameLen+1), nil, "name"},
		{"no name", "", nil, "name"},
		{"name not UTF-8", "\xff", nil, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckName(tc.set)
			if err == nil {
				err = CheckColumns(tc.cols)
			}
			got := ""
			if err != nil {
				got = err.(*BadParam).Param
			}
			if diff := cmp.Diff(tc.param, got); diff != "" {
				t.Errorf("refused param (-want +got):\n%s (error %v)", diff, err)
			}
		})
	}
}

func TestDocIDIsValidForAnyUID(t *testing.T) {
	for _, uid := range []string{"a/b", ".", "..", "__x__", strings.Repeat("u", 128)} {
		id := docID(uid)
		if strings.Contains(id, "/") || id == "." || id == ".." || strings.HasPrefix(id, "__") || len(id) > 1500 {
			t.Errorf("docID(%q) = %q: not a valid Firestore document id", uid, id)
		}
	}
}
