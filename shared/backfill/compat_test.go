package backfill_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// compatCase is a spec and what the code that predates the source contract made of it: the
// canonical JSON stored with the job, the job id and two task bodies (testdata/compat, captured
// from commit bdebb43 before the contract changed the types). Job documents and task bodies
// already in Firestore and Cloud Tasks have these shapes, so they must keep reading the same.
type compatCase struct {
	Body      json.RawMessage   `json:"body"`
	Canonical json.RawMessage   `json:"canonical"`
	ID        string            `json:"id"`
	Tasks     int               `json:"tasks"`
	APICalls  int               `json:"api_calls"`
	Sample    []json.RawMessage `json:"sample"`
}

var compatNow = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

var compatBodies = map[string]string{
	"youtube_analytics": `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["dQw4w9WgXcQ","aaaaaaaaaaa"],"metrics":["views","likes"],"dimensions":["day"],"start":"2026-11-01","end":"2026-11-09","chunk":"week"}}`,
	"http_json":         `{"source":"http_json","http_json":{"url":"https://api.example.com/v1/items?lang={lang}","params":{"lang":["en","fr"]},"records_path":"data.items","pagination":{"type":"cursor","cursor_path":"paging.cursor","cursor_param":"cursor"},"headers":{"Accept":"application/json"},"secrets":[{"header":"Authorization","prefix":"Bearer ","secret":"projects/p/secrets/s"}]}}`,
	"ga4":               `{"source":"ga4","ga4":{"property":"123456789","dimensions":["date","country"],"metrics":["activeUsers","sessions"],"start":"2026-11-01","end":"2026-11-20","chunk":"week","limit":5000}}`,
}

func compatCapture(t *testing.T, body string) compatCase {
	t.Helper()
	lim := backfill.Limits{Now: compatNow, Settings: compatHosts()}
	s, err := backfill.ParseSpec([]byte(body), lim)
	if err != nil {
		t.Fatalf("ParseSpec(%s): %v", body, err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	c := compatCase{Body: json.RawMessage(body), Canonical: s.JSON(), ID: s.ID(), Tasks: p.Tasks, APICalls: p.APICalls}
	for _, i := range []int{0, p.Tasks - 1} {
		b, err := json.Marshal(p.Task(i))
		if err != nil {
			t.Fatal(err)
		}
		c.Sample = append(c.Sample, b)
	}
	return c
}

// TestCompatShapes checks that today's code reads the captured job documents and task bodies
// and makes the same of them: the same canonical JSON, job id, plan and task bodies, and that a
// stored spec (canonical JSON) and a stored task body decode and re-encode to the same bytes.
// COMPAT_CAPTURE=1 rewrites testdata/compat (only ever from the pre-contract commit).
func TestCompatShapes(t *testing.T) {
	for name, body := range compatBodies {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "compat", name+".json")
			got := compatCapture(t, body)
			if os.Getenv("COMPAT_CAPTURE") == "1" {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want compatCase
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("decoding %s: %v", path, err)
			}
			if diff := cmp.Diff(compact(t, want), compact(t, got)); diff != "" {
				t.Errorf("%s: what the code makes of the spec differs from the captured shapes (-captured +now):\n%s", name, diff)
			}
			// A stored job document's spec is re-read with ParseSpec (jobs.go, sweep): same id.
			s, err := backfill.ParseSpec(want.Canonical, backfill.Limits{Now: compatNow, Settings: compatHosts()})
			if err != nil {
				t.Fatalf("ParseSpec(stored canonical spec): %v", err)
			}
			if s.ID() != want.ID {
				t.Errorf("stored spec id = %s, want %s", s.ID(), want.ID)
			}
			// ... and with LoadSpec (the fan-out, the sweep), unchecked: same id, same tasks.
			loaded, err := (&backfill.Job{ID: want.ID, Spec: string(want.Canonical)}).LoadSpec()
			if err != nil {
				t.Fatalf("LoadSpec(stored canonical spec): %v", err)
			}
			if loaded.ID() != want.ID {
				t.Errorf("loaded spec id = %s, want %s", loaded.ID(), want.ID)
			}
			if lp, err := loaded.Plan(); err != nil {
				t.Errorf("planning the loaded spec: %v", err)
			} else if b, _ := json.Marshal(lp.Task(0)); string(compactBytes(t, b)) != string(compactBytes(t, want.Sample[0])) {
				t.Errorf("loaded spec's task 0 = %s, want %s", b, want.Sample[0])
			}
			// A task body already in the queue decodes, checks and re-encodes unchanged.
			for _, raw := range want.Sample {
				var task backfill.TaskSpec
				if err := json.Unmarshal(raw, &task); err != nil {
					t.Fatalf("decoding stored task %s: %v", raw, err)
				}
				if err := backfill.CheckTask(task); err != nil {
					t.Errorf("CheckTask(stored task %s) = %v", raw, err)
				}
				again, err := json.Marshal(task)
				if err != nil {
					t.Fatal(err)
				}
				if string(compactBytes(t, again)) != string(compactBytes(t, raw)) {
					t.Errorf("stored task re-encodes as\n%s\nwant\n%s", again, raw)
				}
			}
		})
	}
}

func compact(t *testing.T, c compatCase) compatCase {
	c.Body, c.Canonical = compactBytes(t, c.Body), compactBytes(t, c.Canonical)
	for i := range c.Sample {
		c.Sample[i] = compactBytes(t, c.Sample[i])
	}
	return c
}

func compactBytes(t *testing.T, b []byte) json.RawMessage {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	out, _ := json.Marshal(v) // sorts keys: the comparison is of content, not key order
	return out
}

func compatHosts() backfill.SourceSettings { return httpjson.HostSettings("api.example.com") }
