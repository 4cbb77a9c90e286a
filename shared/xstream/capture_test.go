package xstream

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// captureSummary is what a ReadCapture test compares: where records and
// rejections were found, not their full bytes.
type captureSummary struct {
	Framing    Framing
	Lines      []int
	KeepAlives int
	Rejected   []rejectSummary
}

type rejectSummary struct {
	Line   int
	Reason string // the reason's first words
}

func summarize(t *testing.T, input []byte) (captureSummary, []Record) {
	t.Helper()
	var recs []Record
	st, err := ReadCapture(bytes.NewReader(input), func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadCapture() error = %v", err)
	}
	s := captureSummary{Framing: st.Framing, KeepAlives: st.KeepAlives}
	for _, r := range recs {
		s.Lines = append(s.Lines, r.Line)
	}
	for _, r := range st.Rejected {
		reason, _, _ := strings.Cut(r.Reason, ":")
		s.Rejected = append(s.Rejected, rejectSummary{Line: r.Line, Reason: reason})
	}
	if st.Records != len(recs) {
		t.Errorf("Stats.Records = %d, want %d (calls of fn)", st.Records, len(recs))
	}
	return s, recs
}

func TestReadCaptureFixtures(t *testing.T) {
	tests := []struct {
		file string
		want captureSummary
		// wantIn are byte strings that must appear, unchanged, in some record.
		wantIn []string
	}{
		{
			file:   "v1_array.json",
			want:   captureSummary{Framing: FramingJSONArray, Lines: []int{2, 23, 28}},
			wantIn: []string{`"id": 658224858933927940`, `"in_reply_to_status_id": 658223568560484352`},
		},
		{
			file: "v1_array_truncated.json",
			want: captureSummary{Framing: FramingJSONArray, Lines: []int{2},
				Rejected: []rejectSummary{{Line: 3, Reason: "truncated array element"}}},
			wantIn: []string{`"id":658224858933927940`},
		},
		{
			file:   "v1_ndjson.jsonl",
			want:   captureSummary{Framing: FramingNDJSON, Lines: []int{1, 2, 3, 4}},
			wantIn: []string{`{"delete":{"status":{"id":6832057002,"user_id":18378841}}}`, `"up_to_status_id_str":"23260136625"`},
		},
		{
			// Leading keep-alive, one between the tweets, and the stray "\n"
			// after the last "\r\n" (as in sferik's track_streaming.json).
			file:   "v1_crlf.txt",
			want:   captureSummary{Framing: FramingCRLF, Lines: []int{2, 4}, KeepAlives: 3},
			wantIn: []string{`"id_str":"658224858933927940"`},
		},
		{
			file:   "v2_stream_crlf.txt",
			want:   captureSummary{Framing: FramingCRLF, Lines: []int{1, 3, 4}, KeepAlives: 1},
			wantIn: []string{`"matching_rules":[{"id":1377649934414049282,"tag":null}]`, `"disconnect_type":"OperationalDisconnect"`},
		},
		{
			file: "v2_damaged.jsonl",
			want: captureSummary{Framing: FramingNDJSON, Lines: []int{1, 4}, Rejected: []rejectSummary{
				{Line: 2, Reason: "invalid JSON at byte 1"},
				{Line: 3, Reason: "not a JSON object"},
				{Line: 5, Reason: "truncated last line"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, recs := summarize(t, input)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadCapture(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
			all := bytes.Join(func() [][]byte {
				var d [][]byte
				for _, r := range recs {
					d = append(d, r.Data)
				}
				return d
			}(), []byte("\n"))
			for _, s := range tt.wantIn {
				if !bytes.Contains(all, []byte(s)) {
					t.Errorf("ReadCapture(%s) records do not contain %s", tt.file, s)
				}
			}
		})
	}
}

func TestReadCaptureEdgeCases(t *testing.T) {
	long := `{"text":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	tests := []struct {
		name     string
		input    string
		want     captureSummary
		wantData []string
	}{
		{name: "empty", input: "", want: captureSummary{Framing: FramingEmpty}},
		{name: "only keep-alives", input: "\r\n\r\n", want: captureSummary{Framing: FramingCRLF, KeepAlives: 2}},
		{name: "trailing space kept out", input: "{\"limit\":{\"track\":121564}} \n",
			want: captureSummary{Framing: FramingNDJSON, Lines: []int{1}}, wantData: []string{`{"limit":{"track":121564}}`}},
		{name: "byte order mark", input: "\xef\xbb\xbf{\"a\":1}\n", want: captureSummary{Framing: FramingNDJSON, Lines: []int{1}},
			wantData: []string{`{"a":1}`}},
		{name: "last line without newline is kept", input: "{\"a\":1}\r\n{\"b\":2}",
			want: captureSummary{Framing: FramingCRLF, Lines: []int{1, 2}}, wantData: []string{`{"a":1}`, `{"b":2}`}},
		{name: "id above 2^53 untouched", input: `{"id":1377649934414049282}` + "\n",
			want: captureSummary{Framing: FramingNDJSON, Lines: []int{1}}, wantData: []string{`{"id":1377649934414049282}`}},
		{name: "over-long line rejected, next line read", input: long + "\n{\"a\":1}\n",
			want: captureSummary{Framing: FramingNDJSON, Lines: []int{2}, Rejected: []rejectSummary{{Line: 1, Reason: "line exceeds the 10485760-byte limit (10485772 bytes with its terminator)"}}}},
		{name: "array with non-object element", input: `[{"a":1}, 7, {"b":2}]`,
			want: captureSummary{Framing: FramingJSONArray, Lines: []int{1, 1}, Rejected: []rejectSummary{{Line: 1, Reason: "not a JSON object"}}}},
		{name: "empty array", input: "[]", want: captureSummary{Framing: FramingJSONArray}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, recs := summarize(t, []byte(tt.input))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadCapture(%.40q) mismatch (-want +got):\n%s", tt.input, diff)
			}
			if tt.wantData != nil {
				var data []string
				for _, r := range recs {
					data = append(data, string(r.Data))
				}
				if diff := cmp.Diff(tt.wantData, data); diff != "" {
					t.Errorf("ReadCapture(%.40q) data mismatch (-want +got):\n%s", tt.input, diff)
				}
			}
		})
	}
}

func TestReadCaptureStopsOnCallbackError(t *testing.T) {
	errStop := errors.New("stop")
	calls := 0
	_, err := ReadCapture(strings.NewReader("{\"a\":1}\n{\"b\":2}\n"), func(Record) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("ReadCapture() = %v after %d calls, want %v after 1 call", err, calls, errStop)
	}
}
