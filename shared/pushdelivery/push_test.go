package pushdelivery

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const topic = "projects/p/topics/events"

func testBody() PushBody {
	attempt := 2
	return PushBody{
		Message: PushMessage{Data: []byte(`{"kind":"search","query":"q"}`), Attributes: map[string]string{"kind": "search"},
			MessageID: "m-1", PublishTime: "2026-11-22T09:59:59.5Z"},
		Subscription:    "projects/p/subscriptions/events-rankings",
		DeliveryAttempt: &attempt,
	}
}

// TestEventFromRequestReadsEveryShape: whatever shape a message arrives in, the handler gets the
// same push body as data, and the attributes the shape carries.
func TestEventFromRequestReadsEveryShape(t *testing.T) {
	ctx := context.Background()
	body := testBody()
	type attrs struct{ Type, Source, ID, Time string }
	for _, tc := range []struct {
		name  string
		build func() (*http.Request, error)
		want  attrs
	}{
		{"push subscription", func() (*http.Request, error) {
			return PushRequest(ctx, "http://fn.example/"+topic, body, "tok")
		}, attrs{MessagePublishedType, "//pubsub.googleapis.com/" + topic, "", "2026-11-22T10:00:00Z"}}, // nothing in the request but the path
		{"Eventarc binary CloudEvent", func() (*http.Request, error) {
			return BinaryCloudEventRequest(ctx, "http://fn.example/", topic, body, "tok")
		}, attrs{MessagePublishedType, "//pubsub.googleapis.com/" + topic, "m-1", "2026-11-22T09:59:59.5Z"}},
		{"structured CloudEvent", func() (*http.Request, error) {
			return StructuredCloudEventRequest(ctx, "http://fn.example/", topic, body, "")
		}, attrs{MessagePublishedType, "//pubsub.googleapis.com/" + topic, "m-1", "2026-11-22T09:59:59.5Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			e, err := EventFromRequest(req, now)
			if err != nil {
				t.Fatalf("EventFromRequest = %v, want an event", err)
			}
			got := attrs{e.Type(), e.Source(), e.ID(), e.Time().Format(time.RFC3339Nano)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event attributes (-want +got):\n%s", diff)
			}
			var data PushBody
			if err := json.Unmarshal(e.Data(), &data); err != nil {
				t.Fatalf("event data %q: %v", e.Data(), err)
			}
			if diff := cmp.Diff(body, data); diff != "" {
				t.Errorf("event data (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEventFromRequestRefusesNonDeliveries: what is no delivery is refused, and the error says what
// is wrong with it.
func TestEventFromRequestRefusesNonDeliveries(t *testing.T) {
	binary := func(h map[string]string, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://fn.example/", strings.NewReader(body))
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		req     *http.Request
		wantErr []string
	}{
		{"structured, no attributes", binary(map[string]string{"Content-Type": "application/cloudevents+json"}, `{}`),
			[]string{"reading the CloudEvent"}},
		{"structured, only specversion", binary(map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0"}`),
			[]string{"reading the CloudEvent", "id", "type", "source"}},
		{"structured, not JSON", binary(map[string]string{"Content-Type": "application/cloudevents+json"}, `<xml/>`),
			[]string{"reading the CloudEvent"}},
		{"binary, ce-id alone", binary(map[string]string{"Content-Type": "application/json", "Ce-Id": "1"}, `{}`),
			[]string{"reading the CloudEvent"}},
		{"binary, no ce-type", binary(map[string]string{"Ce-Id": "1", "Ce-Specversion": "1.0", "Ce-Source": "//s"}, `{}`),
			[]string{"reading the CloudEvent", "type"}},
		{"push body over the bound", binary(map[string]string{"Content-Type": "application/json"}, strings.Repeat("x", MaxRequestBytes+1)),
			[]string{"push body over 33554432 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EventFromRequest(tc.req, now)
			if err == nil {
				t.Fatalf("EventFromRequest = an event, want an error naming %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("EventFromRequest error %q, want it to name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("EventFromRequest error %q spans lines, want one (it is the answer's body)", err)
			}
		})
	}
}

// A push body at the bound is still a delivery: the bound refuses only what Cloud Functions would.
func TestEventFromRequestTakesBodyAtBound(t *testing.T) {
	body := bytes.Repeat([]byte("x"), MaxRequestBytes)
	req := httptest.NewRequest(http.MethodPost, "http://fn.example/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	e, err := EventFromRequest(req, now)
	if err != nil || len(e.Data()) != MaxRequestBytes {
		t.Errorf("EventFromRequest(%d bytes) = %d bytes of data, %v; want all of them", MaxRequestBytes, len(e.Data()), err)
	}
}
