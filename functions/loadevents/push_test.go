package loadevents

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// pushServer serves e's loader through Handler, as the deployed function does.
func (e *env) pushServer(t *testing.T) string {
	t.Helper()
	hs := httptest.NewServer(Handler(func(context.Context) (*Loader, error) { return e.loader, nil }, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(hs.Close)
	return hs.URL
}

// pushBody is the body a Pub/Sub push subscription posts (the "wrapped" format).
func pushBody(t *testing.T, id string, data []byte, attempt int) []byte {
	t.Helper()
	b, err := json.Marshal(localstack.PushBody{
		Message:         localstack.PushMessage{Data: data, Attributes: map[string]string{"source": "app"}, MessageID: id, PublishTime: now.Add(-time.Second).Format(time.RFC3339Nano)},
		Subscription:    "projects/" + project + "/subscriptions/events-loader",
		DeliveryAttempt: &attempt,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, url, contentType string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return do(t, req)
}

// TestPushBodyFillsDeadLetterColumns: a push subscription's own body (what Terraform deploys) keeps
// its subscription and delivery attempt in the dead-letter row, and a good message still loads.
func TestPushBodyFillsDeadLetterColumns(t *testing.T) {
	e := newEnv(t, nil)
	url := e.pushServer(t) + "/projects/" + project + "/topics/events"
	if code := post(t, url, "application/json", pushBody(t, "push-bad", []byte(`{"kind":"detail_view"}`), 3)); code/100 != 2 {
		t.Errorf("push of an invalid event = %d, want 2xx (dead-lettered)", code)
	}
	if code := post(t, url, "application/json", pushBody(t, "push-good", []byte(`{"kind":"search","query":"pushed"}`), 1)); code/100 != 2 {
		t.Errorf("push of a good event = %d, want 2xx", code)
	}
	if code := post(t, url, "application/json", []byte("<html>not a push body</html>")); code/100 != 2 {
		t.Errorf("push of a non-JSON body = %d, want 2xx (dead-lettered)", code)
	}
	got := e.query(t, "SELECT message_id, subscription, delivery_attempt, stage FROM `DS.dead_letters` ORDER BY message_id NULLS LAST")
	want := []map[string]any{
		{"message_id": "push-bad", "subscription": "projects/" + project + "/subscriptions/events-loader", "delivery_attempt": int64(3), "stage": "decode"},
		{"message_id": nil, "subscription": nil, "delivery_attempt": nil, "stage": "decode"}, // nothing says which message it was
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	if got := e.query(t, "SELECT message_id FROM `DS.app_events`"); len(got) != 1 || got[0]["message_id"] != "push-good" {
		t.Errorf("app_events = %v, want push-good", got)
	}
	body := e.query(t, "SELECT data FROM `DS.dead_letters` WHERE message_id IS NULL")
	if len(body) != 1 || !bytes.Equal(body[0]["data"].([]byte), []byte("<html>not a push body</html>")) {
		t.Errorf("dead letter of the non-JSON body = %v, want the body byte for byte", body)
	}
}

// TestHandlerTakesCloudEventsAndRefusesOthers: Eventarc's binary CloudEvents still load through
// the HTTP entry point; a GET or a broken CloudEvent is refused without touching the tables.
func TestHandlerTakesCloudEventsAndRefusesOthers(t *testing.T) {
	e := newEnv(t, nil)
	url := e.pushServer(t)
	req, err := localstack.CloudEventRequest(context.Background(), url, "projects/"+project+"/topics/events", localstack.PushBody{
		Message: localstack.PushMessage{Data: []byte(`{"kind":"search","query":"q"}`), MessageID: "ce-1", PublishTime: now.Format(time.RFC3339Nano)},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if code := do(t, req); code/100 != 2 {
		t.Errorf("binary CloudEvent = %d, want 2xx", code)
	}
	get, _ := http.NewRequest(http.MethodGet, url, nil)
	if code := do(t, get); code != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", code)
	}
	broken, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	broken.Header.Set("Content-Type", "application/cloudevents+json")
	if code := do(t, broken); code != http.StatusBadRequest {
		t.Errorf("structured CloudEvent without id or type = %d, want 400", code)
	}
	if got := e.query(t, "SELECT message_id FROM `DS.app_events`"); len(got) != 1 || got[0]["message_id"] != "ce-1" {
		t.Errorf("app_events = %v, want ce-1", got)
	}
	if got := e.query(t, "SELECT message_id FROM `DS.dead_letters`"); len(got) != 0 {
		t.Errorf("dead_letters = %v, want none", got)
	}
}

// FuzzEventFromRequest: any push body becomes the event's data unchanged (so nothing is lost on the
// way to a dead letter), and the topic comes from the path alone.
func FuzzEventFromRequest(f *testing.F) {
	f.Add([]byte(`{"message":{"data":"e30=","messageId":"1"},"subscription":"projects/p/subscriptions/s","deliveryAttempt":2}`), "/projects/p/topics/t")
	f.Add([]byte(""), "/")
	f.Add([]byte("\xff\xfe not json"), "/projects/p/topics/t/extra?x=1")
	f.Add([]byte(`{"message":null}`), "/projects//topics/")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		req := httptest.NewRequest(http.MethodPost, "http://fn.example/", bytes.NewReader(body))
		req.URL.Path = path
		req.Header.Set("Content-Type", "application/json")
		e, err := EventFromRequest(req, now)
		if err != nil {
			t.Fatalf("EventFromRequest(%q): %v", body, err)
		}
		if !bytes.Equal(e.Data(), body) && !(len(body) == 0 && len(e.Data()) == 0) {
			t.Errorf("event data = %q, want the body %q", e.Data(), body)
		}
		if want := "//pubsub.googleapis.com/" + topicInPath.FindString(path); e.Source() != want {
			t.Errorf("source = %q, want %q", e.Source(), want)
		}
		if e.Type() != MessagePublishedType || !e.Time().Equal(now) {
			t.Errorf("event %s at %s, want %s at %s", e.Type(), e.Time(), MessagePublishedType, now)
		}
	})
}
