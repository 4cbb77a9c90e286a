package xstreamtest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// do sends a raw request with the server's token and returns status and body.
func do(t *testing.T, s *Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s %s: decoding body: %v", method, path, err)
	}
	if meta, ok := out["meta"].(map[string]any); ok {
		delete(meta, "sent") // a timestamp
	}
	return resp.StatusCode, out
}

func TestRulesEndpointShapes(t *testing.T) {
	s := NewServer(WithRules(xstream.Rule{Value: "meme has:images"}))
	defer s.Close()
	const path = xstream.RulesPath
	steps := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", path + "?dry_run=true", `{"add":[{"value":"tostones recipe"}]}`, 201,
			`{"data":[{"id":"1273636687768285187","value":"tostones recipe"}],"meta":{"summary":{"created":1,"invalid":0,"not_created":0,"valid":1}}}`},
		{"POST", path, `{"add":[{"value":"puppy has:media","tag":"puppies with media"},{"value":"meme has:images"},{"value":"has:media"}]}`, 201,
			`{"data":[{"id":"1273636687768285188","value":"puppy has:media","tag":"puppies with media"}],` +
				`"errors":[{"value":"meme has:images","id":"1273636687768285186","title":"DuplicateRule","type":"https://api.twitter.com/2/problems/duplicate-rules"},` +
				`{"value":"has:media","details":["Rules must contain at least one positive, non-stopword clause (at position 1)"],"title":"UnprocessableEntity","type":"https://api.twitter.com/2/problems/invalid-rules"}],` +
				`"meta":{"summary":{"created":1,"invalid":2,"not_created":2,"valid":1}}}`},
		{"POST", path, `{"add":[{"values":"puppy has:media"}]}`, 400,
			`{"errors":[{"parameters":{"add.value":[]},"message":"field is required"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`},
		{"POST", path, `{"delete":[{"ids":["1273636687768285186"]}]}`, 400,
			`{"errors":[{"parameters":{"delete":[]},"message":"JSON doesn't match expected schema"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`},
		{"POST", path, `{"delete":{"ids":["1273636687768285186","1"]}}`, 200,
			`{"meta":{"summary":{"deleted":1,"not_deleted":1}}}`},
		{"GET", path, "", 200,
			`{"data":[{"id":"1273636687768285188","value":"puppy has:media","tag":"puppies with media"}],"meta":{"result_count":1}}`},
	}
	for _, st := range steps {
		status, got := do(t, s, st.method, st.path, st.body)
		var want map[string]any
		dec := json.NewDecoder(strings.NewReader(st.want))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if status != st.status {
			t.Errorf("%s %s %s: status = %d, want %d", st.method, st.path, st.body, status, st.status)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s %s: body mismatch (-want +got):\n%s", st.method, st.path, st.body, diff)
		}
	}
}

func TestStreamWireFraming(t *testing.T) {
	s := NewServer(WithKeepAlive(time.Hour), WithCloseWhenDone(),
		WithScript(Message(`{"data":{"id":"1"}}`), KeepAlive(), Message(`{"data":{"id":"2"}}`)))
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+xstream.StreamPath, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(bufio.NewReader(resp.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"data\":{\"id\":\"1\"}}\r\n\r\n{\"data\":{\"id\":\"2\"}}\r\n"; string(body) != want {
		t.Errorf("stream body = %q, want %q", body, want)
	}
}

func TestStreamUnauthorizedAndEmptyRules(t *testing.T) {
	s := NewServer()
	defer s.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL()+xstream.StreamPath, nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := problemBodies[401]; resp.StatusCode != 401 || string(body) != want {
		t.Errorf("wrong token: %d %s, want 401 %s", resp.StatusCode, body, want)
	}
	status, got := do(t, s, "GET", xstream.RulesPath, "")
	if want := map[string]any{"meta": map[string]any{"result_count": json.Number("0")}}; status != 200 || !cmp.Equal(want, got) {
		t.Errorf("GET rules on empty server = %d %v, want 200 %v", status, got, want)
	}
	if st := s.Stats(); st.Unauthorized != 1 || st.StreamRequests != 1 || st.ConnectionsOpened != 0 {
		t.Errorf("Stats() = %+v, want 1 unauthorized stream request and no connection", st)
	}
}
