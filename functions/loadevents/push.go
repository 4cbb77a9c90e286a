package loadevents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// MessagePublishedType is the CloudEvent type of a Pub/Sub message.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// maxRequestBytes bounds a delivery's body: a 10 MB Pub/Sub message is about 13.4 MB in base64,
// and Cloud Functions refuses requests over 32 MB anyway.
const maxRequestBytes = 32 << 20

// topicInPath finds the topic in a push endpoint's path (/projects/P/topics/T), where the
// Functions Framework also looks for it.
var topicInPath = regexp.MustCompile(`projects/[^/?]+/topics/[^/?]+`)

// Handler serves LoadEvents over HTTP. It takes the two shapes a message arrives in: the body of
// a Pub/Sub push subscription (what Terraform deploys: {"message", "subscription",
// "deliveryAttempt"}) and a messagePublished CloudEvent in binary or structured mode (Eventarc, the
// local forwarder). The Functions Framework would turn a push body into a CloudEvent itself, but
// drops its subscription and deliveryAttempt on the way, and those fill the dead-letter columns:
// so the push body is read here, whole. get returns the instance's Loader.
//
// A 2xx answer acknowledges the message. Only a transient failure answers 500, so Pub/Sub
// redelivers; a request that is not a delivery at all gets 400 or 405.
func Handler(get func(context.Context) (*Loader, error), log *slog.Logger) http.HandlerFunc {
	if log == nil {
		log = slog.Default()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "LoadEvents takes Pub/Sub deliveries: POST only", http.StatusMethodNotAllowed)
			return
		}
		e, err := EventFromRequest(r, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l, err := get(r.Context())
		if err != nil {
			// Retried: configuration or client creation may succeed next time.
			log.ErrorContext(r.Context(), "LoadEvents cannot start; Pub/Sub will redeliver", "error", err)
			http.Error(w, "LoadEvents cannot start: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if err := l.Handle(r.Context(), e); err != nil {
			log.ErrorContext(r.Context(), "message not loaded; Pub/Sub will redeliver", "event_id", e.ID(), "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// EventFromRequest reads a delivery as a CloudEvent. A CloudEvent request (a ce-id header or a
// cloudevents content type, the Functions Framework's test) is decoded as one. Anything else is a
// push body: it becomes the data of a messagePublished event unchanged, so Loader.Handle reads its
// message, subscription and deliveryAttempt; the event's source names the topic of the path and
// its time is now, for a body that says nothing.
func EventFromRequest(r *http.Request, now time.Time) (cloudevents.Event, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxRequestBytes)
	if r.Header.Get("Ce-Id") != "" || strings.Contains(r.Header.Get("Content-Type"), "cloudevents") {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			return cloudevents.Event{}, fmt.Errorf("reading the CloudEvent: %w", err)
		}
		return *e, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return cloudevents.Event{}, fmt.Errorf("push body over %d bytes", maxRequestBytes)
		}
		return cloudevents.Event{}, fmt.Errorf("reading the push body: %w", err)
	}
	e := cloudevents.NewEvent()
	e.SetType(MessagePublishedType)
	e.SetSource("//pubsub.googleapis.com/" + topicInPath.FindString(r.URL.Path))
	e.SetTime(now)
	if err := e.SetData(cloudevents.ApplicationJSON, body); err != nil {
		return cloudevents.Event{}, fmt.Errorf("keeping the push body: %w", err)
	}
	return e, nil
}
