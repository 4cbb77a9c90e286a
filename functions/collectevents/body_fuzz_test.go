package collectevents

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// referenceSplit is how the events of a body were found when it was read whole (the decode path
// the event sources replaced), kept as the fuzz test's oracle: the status of a refused body, or
// the events, each exactly as received.
func referenceSplit(body []byte, ndjson bool, maxEvents int) (int, [][]byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		return http.StatusBadRequest, nil
	}
	var events [][]byte
	if ndjson {
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				if len(events) == maxEvents {
					return http.StatusRequestEntityTooLarge, nil
				}
				events = append(events, line)
			}
		}
		return http.StatusOK, events
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(body))
	switch trimmed[0] {
	case '{':
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return http.StatusBadRequest, nil
		}
		events = append(events, raw)
	case '[':
		if _, err := dec.Token(); err != nil {
			return http.StatusBadRequest, nil
		}
		for dec.More() {
			if len(events) == maxEvents {
				return http.StatusRequestEntityTooLarge, nil
			}
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return http.StatusBadRequest, nil
			}
			events = append(events, raw)
		}
		if _, err := dec.Token(); err != nil {
			return http.StatusBadRequest, nil
		}
	default:
		return http.StatusBadRequest, nil
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return http.StatusBadRequest, nil
	}
	return http.StatusOK, events
}

// FuzzEventSource: reading a body one event at a time finds the same events as reading it whole
// did, or refuses it with the same status; no input makes it panic.
func FuzzEventSource(f *testing.F) {
	for _, s := range []string{
		"[" + search1 + "," + view1 + "]", search1, search1 + "\n\n" + view1 + "\r\n", " [ ] ", "[", "[1,", "{}{}",
		"[" + search1 + " " + search2 + "]", "\v", "[]\u00a0", "\u00a0" + search1 + "\v\n\v", `["a",{"b":[1,2]},3]`,
		"[" + search1 + "," + search1 + "," + search1 + "]", "\xff\n{", `{"a":"\u00"}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	const maxEvents = 2
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := contentTypeJSON
		if ndjson {
			ct = contentTypeNDJSON
		}
		wantStatus, want := referenceSplit(body, ndjson, maxEvents)
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		src, reqErr := openBody(httptest.NewRecorder(), req, ct, DefaultMaxBodyBytes, maxEvents)
		if reqErr != nil {
			t.Fatalf("openBody() = %v", reqErr)
		}
		status := http.StatusOK
		var got [][]byte
		for {
			data, size, reqErr := src.next()
			if reqErr != nil {
				status = reqErr.status
				break
			}
			if data == nil && size == 0 {
				break
			}
			if size != int64(len(data)) {
				t.Fatalf("event of %d bytes kept as %d bytes; the body is shorter than an event may be", size, len(data))
			}
			got = append(got, bytes.Clone(data))
		}
		if status != wantStatus {
			t.Fatalf("body %q (%s): status %d, reading it whole gave %d", body, ct, status, wantStatus)
		}
		if status == http.StatusOK && !equalEvents(got, want) {
			t.Fatalf("body %q (%s): events %q, reading it whole gave %q", body, ct, got, want)
		}
	})
}

func equalEvents(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
