// Package pushdelivery reads a Pub/Sub message delivered to an HTTP function in every shape that
// delivers one (a push subscription's body, Eventarc's binary CloudEvent, a structured
// CloudEvent), answers deliveries with the acknowledgement contract Pub/Sub acts on (Handler),
// and builds the exact requests that Pub/Sub, Eventarc, Cloud Scheduler and Cloud Tasks send
// (shapes.go), so that tests deliver what production delivers.
//
// Reference: docs/local-stack.md#requests-in-productions-shape.
package pushdelivery

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// MessagePublishedType is the CloudEvent type of a Pub/Sub message.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// MaxRequestBytes bounds a delivery's body: a 10 MB Pub/Sub message is about 13.4 MB in base64,
// and Cloud Functions refuses requests over 32 MB anyway.
const MaxRequestBytes = 32 << 20

// topicInPath finds the topic in a push endpoint's path (/projects/P/topics/T), where the
// Functions Framework also looks for it.
var topicInPath = regexp.MustCompile(`projects/[^/?]+/topics/[^/?]+`)

// EventFromRequest reads a delivery as a CloudEvent. A CloudEvent request (a ce-id header, as
// Eventarc's binary mode has, or a cloudevents content type, as structured mode has) is decoded
// as one. Anything else is a push subscription's body: it becomes the data of a messagePublished
// event unchanged, so the handler reads its message, subscription and deliveryAttempt itself
// (the Functions Framework's own conversion drops the last two); the event's source names the
// topic of the path and its time is now. A push body is never refused for what it holds: only
// the handler can say what a message is worth, and Pub/Sub redelivers on any status but a
// success, 4xx included (https://cloud.google.com/pubsub/docs/push).
func EventFromRequest(r *http.Request, now time.Time) (cloudevents.Event, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, MaxRequestBytes)
	if r.Header.Get("Ce-Id") != "" || strings.Contains(r.Header.Get("Content-Type"), "cloudevents") {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err == nil {
			// The SDK decodes an event missing required attributes; such a request is no
			// delivery (Eventarc always sets id, source, specversion and type).
			err = e.Validate()
		}
		if err != nil {
			// One line, the answer's body: the SDK ends its errors, one per attribute, in "\n".
			return cloudevents.Event{}, fmt.Errorf("reading the CloudEvent: %s", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		}
		return *e, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return cloudevents.Event{}, fmt.Errorf("push body over %d bytes", MaxRequestBytes)
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
