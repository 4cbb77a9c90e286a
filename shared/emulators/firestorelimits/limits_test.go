package firestorelimits

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// Every row says where it comes from and when it was read; every checked row has production's
// code and a message that is production's (with a source) or plainly this package's.
func TestLimitsTableIsComplete(t *testing.T) {
	names := map[string]bool{}
	for _, l := range Limits() {
		if l.Name == "" || names[l.Name] {
			t.Errorf("row %+v: no name, or a name used twice", l)
		}
		names[l.Name] = true
		if !strings.HasPrefix(l.Source, "https://") || l.Read != "2026-12-06" || l.Unit == "" {
			t.Errorf("%s: source %q read %q unit %q: want an https source, read 2026-12-06, and a unit", l.Name, l.Source, l.Read, l.Unit)
		}
		if !l.Checked {
			if l.Note == "" {
				t.Errorf("%s: not checked, and no note says why", l.Name)
			}
			continue
		}
		if l.Code != codes.InvalidArgument || l.Message == "" || l.MessageSource == "" || l.Emulator == "" {
			t.Errorf("%s: code %v, message %q from %q, emulator %q: want INVALID_ARGUMENT and all three said", l.Name, l.Code, l.Message, l.MessageSource, l.Emulator)
		}
		ours := strings.HasPrefix(l.Message, "firestorelimits: ")
		if ours != strings.HasPrefix(l.MessageSource, "this package's words") {
			t.Errorf("%s: message %q, source %q: a message of this package's must begin firestorelimits: and say so", l.Name, l.Message, l.MessageSource)
		}
		if !ours && !strings.Contains(l.MessageSource, "https://") && !strings.Contains(l.MessageSource, "emulator's text") && !strings.Contains(l.MessageSource, "production's text") {
			t.Errorf("%s: message source %q names no report", l.Name, l.MessageSource)
		}
		if strings.Contains(l.Message, "%") != (l.Operands != "") {
			t.Errorf("%s: message %q has verbs, operands %q: want both or neither", l.Name, l.Message, l.Operands)
		}
	}
}

// The constants are the table's values.
func TestConstantsAreTheTable(t *testing.T) {
	want := map[string]int64{
		"API request size":                                           MaxRequestBytes,
		"writes per Commit or transaction":                           0,
		"field transforms per document in one Commit or transaction": MaxTransformsPerDocument,
		"collection ID or document ID size":                          MaxIDBytes,
		"document name size":                                         MaxDocumentNameBytes,
		"field name size":                                            MaxFieldNameBytes,
		"field path size":                                            MaxFieldPathBytes,
		"field value size":                                           MaxFieldValueBytes,
		"depth of maps and arrays":                                   MaxDepth,
		"document size":                                              MaxDocumentBytes,
		"index entries per document":                                 MaxIndexEntriesPerDocument,
		"index entry size":                                           MaxIndexEntryBytes,
		"sum of a document's index entry sizes":                      MaxIndexEntriesBytes,
	}
	for _, l := range Limits() {
		v, ok := want[l.Name]
		if !ok {
			continue
		}
		delete(want, l.Name)
		if l.Value != v {
			t.Errorf("%s = %d in the table, %d as a constant", l.Name, l.Value, v)
		}
	}
	for name := range want {
		t.Errorf("no row %q", name)
	}
	// The documented figures, written out.
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"MaxRequestBytes", MaxRequestBytes, 10_485_760},
		{"MaxDocumentNameBytes", MaxDocumentNameBytes, 6_144},
		{"MaxFieldValueBytes", MaxFieldValueBytes, 1_048_487},
		{"MaxDocumentBytes", MaxDocumentBytes, 1_048_576},
		{"MaxIndexEntriesBytes", MaxIndexEntriesBytes, 8_388_608},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// Each checked row's message is one Check gives: the test cases refuse a request over every
// checked limit.
func TestEveryCheckedLimitHasACase(t *testing.T) {
	var got []string
	for _, c := range sharedLimitCases() {
		got = append(got, c.want)
	}
	for _, l := range Limits() {
		if !l.Checked {
			continue
		}
		prefix, _, _ := strings.Cut(l.Message, "%")
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, refusal(prefix)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no case of limitCases is refused with %q", l.Name, l.Message)
		}
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1048576: "1,048,576", -1234: "-1,234", 100000: "100,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
