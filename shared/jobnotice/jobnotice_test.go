package jobnotice

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

var testEnd = backfill.End{
	JobID: "bf-0123456789abcdef", Seq: 2, Generation: 1, State: backfill.JobDoneWithFailures, Source: "http_json",
	Counts:    backfill.Counts{Planned: 10, Enqueued: 10, Succeeded: 9, Failed: 1, Rows: 900, APICalls: 12},
	CreatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), EndedAt: time.Date(2026, 12, 1, 10, 42, 7, 0, time.UTC),
}

// TestMessageSchema: the body and attributes of a notice, as consumers read them (the table of
// docs/backfills.md, "Job notices", documents this shape).
func TestMessageSchema(t *testing.T) {
	m, err := FromEnd(testEnd).Message()
	if err != nil {
		t.Fatal(err)
	}
	wantBody := `{"schema_version":1,"notice_id":"bf-0123456789abcdef/2","job_id":"bf-0123456789abcdef","end_seq":2,` +
		`"generation":1,"state":"done_with_failures","source":"http_json",` +
		`"counts":{"planned":10,"enqueued":10,"succeeded":9,"failed":1,"retrying":0,"cancelled":0,"rows":900,"api_calls":12},` +
		`"created_at":"2026-12-01T10:00:00Z","ended_at":"2026-12-01T10:42:07Z"}`
	if diff := cmp.Diff(wantBody, string(m.Data)); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
	wantAttrs := map[string]string{"schema_version": "1", "notice_id": "bf-0123456789abcdef/2", "job_id": "bf-0123456789abcdef",
		"state": "done_with_failures", "end_seq": "2"}
	if diff := cmp.Diff(wantAttrs, m.Attributes); diff != "" {
		t.Errorf("attributes mismatch (-want +got):\n%s", diff)
	}
	got, err := Decode(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(FromEnd(testEnd), got); diff != "" {
		t.Errorf("Decode(Message()) mismatch (-want +got):\n%s", diff)
	}
}

// padded is a valid notice body of exactly n bytes (spaces before the closing brace).
func padded(t *testing.T, n int) []byte {
	t.Helper()
	m, err := FromEnd(testEnd).Message()
	if err != nil {
		t.Fatal(err)
	}
	body := m.Data[:len(m.Data)-1]
	return append(append(body, bytes.Repeat([]byte(" "), n-len(body)-1)...), '}')
}

func TestDecodeRefuses(t *testing.T) {
	valid := func(edit func(map[string]any)) []byte {
		m, _ := FromEnd(testEnd).Message()
		var v map[string]any
		if err := json.Unmarshal(m.Data, &v); err != nil {
			t.Fatal(err)
		}
		edit(v)
		b, _ := json.Marshal(v)
		return b
	}
	tests := []struct {
		name string
		body []byte
		want string // in the error; "" means accepted
	}{
		{"at the bound", padded(t, MaxNoticeBytes), ""},
		{"one past the bound", padded(t, MaxNoticeBytes+1), "over the 16384 a notice may have"},
		{"an unknown field", valid(func(v map[string]any) { v["added_later"] = true }), ""},
		{"another schema version", valid(func(v map[string]any) { v["schema_version"] = 2 }), "schema_version 2, want 1"},
		{"no job id", valid(func(v map[string]any) { delete(v, "job_id") }), "no job_id"},
		{"end_seq 0", valid(func(v map[string]any) { v["end_seq"] = 0 }), "end_seq 0"},
		{"a state that is no end", valid(func(v map[string]any) { v["state"] = "running" }), `state "running"`},
		{"a notice id of another end", valid(func(v map[string]any) { v["notice_id"] = "bf-0123456789abcdef/1" }), `want "bf-0123456789abcdef/2"`},
		{"data after the object", append(valid(func(map[string]any) {}), []byte(` {}`)...), "data after"},
		{"not JSON", []byte("done"), "invalid character"},
		{"null", []byte("null"), "schema_version 0"},
		{"empty", nil, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.body)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Decode() = %v, want it accepted", err)
			case tt.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Decode() = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
}

// FuzzDecode: Decode never panics, and what it accepts is a notice that encodes and decodes
// to itself.
func FuzzDecode(f *testing.F) {
	m, _ := FromEnd(testEnd).Message()
	f.Add(m.Data)
	f.Add([]byte(`{"schema_version":1,"notice_id":"a/1","job_id":"a","end_seq":1,"state":"cancelled"}`))
	f.Add([]byte(`{"schema_version":1,"job_id":"a","end_seq":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode() = %v, not wrapping ErrInvalid", err)
			}
			return
		}
		m, err := n.Message()
		if err != nil {
			t.Fatalf("Message() of a decoded notice = %v", err)
		}
		again, err := Decode(m.Data)
		if err != nil {
			t.Fatalf("Decode(Message()) = %v", err)
		}
		if diff := cmp.Diff(n, again); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
		if m.Attributes[AttrNoticeID] != n.NoticeID || m.Attributes[AttrState] != n.State || m.Attributes[AttrJobID] != n.JobID {
			t.Errorf("attributes %v disagree with the body %+v", m.Attributes, n)
		}
	})
}
