package pushdelivery

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

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
		// As the SDK keeps a source: a URI reference, so a space of the path comes back as %20.
		want := cloudevents.NewEvent()
		want.SetSource("//pubsub.googleapis.com/" + topicInPath.FindString(path))
		if e.Source() != want.Source() {
			t.Errorf("source = %q, want %q", e.Source(), want.Source())
		}
		if e.Type() != MessagePublishedType || !e.Time().Equal(now) {
			t.Errorf("event %s at %s, want %s at %s", e.Type(), e.Time(), MessagePublishedType, now)
		}
	})
}

// FuzzCloudEventFromRequest feeds CloudEvent requests of either mode with arbitrary bodies and
// attributes: EventFromRequest never panics, and an event it returns is a valid CloudEvent
// (what the handlers rely on), whatever the bytes.
func FuzzCloudEventFromRequest(f *testing.F) {
	f.Add(true, []byte(`{"specversion":"1.0","type":"t","source":"//s","id":"1","data":{"message":{}}}`), "", "")
	f.Add(true, []byte(`{"specversion":"1.0"}`), "", "")
	f.Add(true, []byte(`{"specversion":"0.3","type":"t","source":"s","id":"1","data_base64":"!!"}`), "", "")
	f.Add(false, []byte(`{"message":{"data":"e30="}}`), "1", "2026-11-22T10:00:00Z")
	f.Add(false, []byte("not json"), "", "yesterday")
	f.Fuzz(func(t *testing.T, structured bool, body []byte, id, time string) {
		req := httptest.NewRequest(http.MethodPost, "http://fn.example/", bytes.NewReader(body))
		if structured {
			req.Header.Set("Content-Type", "application/cloudevents+json")
		} else {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Ce-Specversion", "1.0")
			req.Header.Set("Ce-Type", MessagePublishedType)
			req.Header.Set("Ce-Source", "//pubsub.googleapis.com/projects/p/topics/t")
			req.Header.Set("Ce-Id", id+"x") // never empty: the ce-id header is what says "binary"
			req.Header.Set("Ce-Time", time)
		}
		e, err := EventFromRequest(req, now)
		if err != nil {
			return
		}
		if verr := e.Validate(); verr != nil {
			t.Errorf("EventFromRequest(%q) returned an invalid event: %v", body, verr)
		}
	})
}
