package loadevents

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
)

// pushServer serves e's loader through the handler the deployed function registers.
func (e *env) pushServer(t *testing.T) string {
	t.Helper()
	h := pushdelivery.Handler(EntryPoint, func(context.Context) (*Loader, error) { return e.loader, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

// pushBody is the body a Pub/Sub push subscription posts (the "wrapped" format).
func pushBody(id string, data []byte, attempt int) pushdelivery.PushBody {
	return pushdelivery.PushBody{
		Message:         pushdelivery.PushMessage{Data: data, Attributes: map[string]string{"source": "app"}, MessageID: id, PublishTime: now.Add(-time.Second).Format(time.RFC3339Nano)},
		Subscription:    "projects/" + project + "/subscriptions/events-loader",
		DeliveryAttempt: &attempt,
	}
}

// push posts body as a push subscription does and returns the status.
func push(t *testing.T, url string, body pushdelivery.PushBody) int {
	t.Helper()
	req, err := pushdelivery.PushRequest(context.Background(), url, body, "")
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
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
	if code := push(t, url, pushBody("push-bad", []byte(`{"kind":"detail_view"}`), 3)); code/100 != 2 {
		t.Errorf("push of an invalid event = %d, want 2xx (dead-lettered)", code)
	}
	if code := push(t, url, pushBody("push-good", []byte(`{"kind":"search","query":"pushed"}`), 1)); code/100 != 2 {
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
	req, err := pushdelivery.BinaryCloudEventRequest(context.Background(), url, "projects/"+project+"/topics/events", pushdelivery.PushBody{
		Message: pushdelivery.PushMessage{Data: []byte(`{"kind":"search","query":"q"}`), MessageID: "ce-1", PublishTime: now.Format(time.RFC3339Nano)},
	}, "")
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
