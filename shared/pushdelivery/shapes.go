package pushdelivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The builders below make the exact requests Google's services send to a function, so that tests
// (and the local stack) deliver what production delivers. Each header is set as its source says;
// what a source leaves unsaid (Eventarc's User-Agent, Pub/Sub's Content-Type charset) is not
// invented. Host and Content-Length are computed by net/http, as by each service.

// PushMessage is the message object of a Pub/Sub push body and of a messagePublished
// CloudEvent's data (https://cloud.google.com/pubsub/docs/reference/rest/v1/PubsubMessage).
type PushMessage struct {
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	MessageID   string            `json:"messageId"`
	PublishTime string            `json:"publishTime"`
	OrderingKey string            `json:"orderingKey,omitempty"`
}

// PushBody is the body of a push subscription's request ("wrapped" delivery, the default:
// https://cloud.google.com/pubsub/docs/push) and the data of a messagePublished CloudEvent.
type PushBody struct {
	Message      PushMessage `json:"message"`
	Subscription string      `json:"subscription"`
	// DeliveryAttempt is set only on a subscription with a dead-letter policy.
	DeliveryAttempt *int `json:"deliveryAttempt,omitempty"`
}

// Acked reports whether a push endpoint's answer acknowledges the message: only 102, 200, 201, 202
// and 204 do; any other status, 2xx included, makes Pub/Sub deliver it again
// (https://cloud.google.com/pubsub/docs/push).
func Acked(status int) bool {
	switch status {
	case http.StatusProcessing, http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent:
		return true
	}
	return false
}

// PushUserAgent is the User-Agent of Google APIs' push notifications, Pub/Sub's push among them
// (https://developers.google.com/search/docs/crawling-indexing/apis-user-agent).
const PushUserAgent = "APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)"

// SchedulerUserAgent is the User-Agent Cloud Scheduler sets on an HTTP target's request
// (https://cloud.google.com/scheduler/docs/reference/rpc/google.cloud.scheduler.v1#httptarget).
const SchedulerUserAgent = "Google-Cloud-Scheduler"

// TasksUserAgent is the User-Agent Cloud Tasks sets on an HTTP target's request
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#HttpRequest).
const TasksUserAgent = "Google-Cloud-Tasks"

// PushRequest builds the request a push subscription sends for one message: a POST of the
// wrapped JSON body to the push endpoint url (ours end in /projects/P/topics/T), with
// Content-Type application/json (https://cloud.google.com/pubsub/docs/push), the APIs-Google
// User-Agent, and, when token is not empty, the subscription's OIDC token as
// "Authorization: Bearer" (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions).
// No ce-* header: a push subscription knows nothing of CloudEvents.
func PushRequest(ctx context.Context, url string, body PushBody, token string) (*http.Request, error) {
	// The wrapped body carries the message id and publish time twice, also in snake case
	// ("message_id", "publish_time"), as the push guide's example shows.
	type pushMessage struct {
		PushMessage
		MessageIDSnake   string `json:"message_id"`
		PublishTimeSnake string `json:"publish_time"`
	}
	b, err := json.Marshal(struct {
		Message         pushMessage `json:"message"`
		Subscription    string      `json:"subscription"`
		DeliveryAttempt *int        `json:"deliveryAttempt,omitempty"`
	}{pushMessage{body.Message, body.Message.MessageID, body.Message.PublishTime}, body.Subscription, body.DeliveryAttempt})
	if err != nil {
		return nil, fmt.Errorf("encoding the push body: %w", err)
	}
	req, err := newRequest(ctx, http.MethodPost, url, b)
	if err != nil {
		return nil, err
	}
	bearer(req, token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", PushUserAgent)
	return req, nil
}

// BinaryCloudEventRequest builds what Eventarc sends for a Pub/Sub message: a binary-mode
// messagePublished CloudEvent POSTed to url (Eventarc posts to the service's root path), its
// attributes in ce-* headers (id the message id, source the topic, time the publish time) and
// body the JSON data (https://cloud.google.com/eventarc/docs/cloudevents#pubsub,
// https://cloud.google.com/eventarc/standard/docs/event-format). Content-Type is
// application/json; charset=utf-8 as in that page's header blocks (the Audit Logs one; our
// stored copy of the Pub/Sub one is cut before it). topic is projects/P/topics/T. A non-empty
// token is the trigger's OIDC token; Eventarc documents no User-Agent, so none is set.
func BinaryCloudEventRequest(ctx context.Context, url, topic string, body PushBody, token string) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding CloudEvent data: %w", err)
	}
	req, err := newRequest(ctx, http.MethodPost, url, b)
	if err != nil {
		return nil, err
	}
	bearer(req, token)
	h := req.Header
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Type", MessagePublishedType)
	h.Set("Ce-Source", "//pubsub.googleapis.com/"+topic)
	h.Set("Ce-Id", body.Message.MessageID)
	if body.Message.PublishTime != "" { // ce-time is optional in Eventarc's table
		h.Set("Ce-Time", body.Message.PublishTime)
	}
	return req, nil
}

// structuredEvent is a CloudEvent in the JSON event format, whose data is JSON.
type structuredEvent struct {
	SpecVersion     string   `json:"specversion"`
	Type            string   `json:"type"`
	Source          string   `json:"source"`
	ID              string   `json:"id"`
	Time            string   `json:"time,omitempty"`
	DataContentType string   `json:"datacontenttype"`
	Data            PushBody `json:"data"`
}

// StructuredCloudEventRequest builds the same messagePublished event in structured mode: the
// whole event as one JSON object (Eventarc's JSON form of a Pub/Sub event,
// https://cloud.google.com/eventarc/docs/cloudevents-json) with Content-Type
// application/cloudevents+json; charset=UTF-8 (CloudEvents HTTP binding 3.2,
// https://github.com/cloudevents/spec/blob/v1.0/http-protocol-binding.md). Eventarc itself posts
// binary mode; this is the binding's other mode, which the CloudEvents SDK also reads.
func StructuredCloudEventRequest(ctx context.Context, url, topic string, body PushBody, token string) (*http.Request, error) {
	b, err := json.Marshal(structuredEvent{
		SpecVersion: "1.0", Type: MessagePublishedType, Source: "//pubsub.googleapis.com/" + topic,
		ID: body.Message.MessageID, Time: body.Message.PublishTime, DataContentType: "application/json", Data: body,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the CloudEvent: %w", err)
	}
	req, err := newRequest(ctx, http.MethodPost, url, b)
	if err != nil {
		return nil, err
	}
	bearer(req, token)
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=UTF-8")
	return req, nil
}

// SchedulerJob is what a Cloud Scheduler job puts in its request besides the body: its name,
// the run's schedule time, and the http_target.headers it was created with.
type SchedulerJob struct {
	// Name is sent as X-CloudScheduler-JobName.
	Name string
	// ScheduleTime is sent as X-CloudScheduler-ScheduleTime (RFC 3339, UTC) for a job on a
	// unix-cron schedule; zero sends none.
	ScheduleTime time.Time
	// Headers are the job's own headers; Scheduler replaces the ones it sets itself.
	Headers map[string]string
}

// SchedulerRequest builds the request a Cloud Scheduler HTTP-target job sends: method and body
// as the job says, the job's headers except those Scheduler sets or drops (Host, Content-Length,
// User-Agent, X-Google-*, X-AppEngine-*), then User-Agent Google-Cloud-Scheduler,
// X-CloudScheduler: true, X-CloudScheduler-JobName and X-CloudScheduler-ScheduleTime, and for a
// body without a Content-Type of the job's, application/octet-stream
// (https://cloud.google.com/scheduler/docs/reference/rpc/google.cloud.scheduler.v1#httptarget).
// A non-empty token is the job's OIDC token.
func SchedulerRequest(ctx context.Context, url, method string, body []byte, job SchedulerJob, token string) (*http.Request, error) {
	req, err := newRequest(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	h := req.Header
	for k, v := range job.Headers {
		if !serviceHeader(k, "x-cloudscheduler") {
			h.Set(k, v)
		}
	}
	if len(body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("User-Agent", SchedulerUserAgent)
	h.Set("X-CloudScheduler", "true")
	h.Set("X-CloudScheduler-JobName", job.Name)
	if !job.ScheduleTime.IsZero() {
		h.Set("X-CloudScheduler-ScheduleTime", job.ScheduleTime.UTC().Format(time.RFC3339))
	}
	bearer(req, token) // the job's token replaces an Authorization of its headers
	return req, nil
}

// TaskAttempt is what Cloud Tasks says about one attempt of a task, and the task's own headers.
type TaskAttempt struct {
	// Queue and Task are the short ids (X-CloudTasks-QueueName, X-CloudTasks-TaskName).
	Queue, Task string
	// RetryCount counts earlier attempts (X-CloudTasks-TaskRetryCount), ExecutionCount those
	// that got a non-5xx answer (X-CloudTasks-TaskExecutionCount).
	RetryCount, ExecutionCount int
	// ETA is the task's schedule time (X-CloudTasks-TaskETA, seconds since the epoch).
	ETA time.Time
	// PreviousResponse is the previous attempt's status (X-CloudTasks-TaskPreviousResponse), 0
	// for none; RetryReason says why it is retried (X-CloudTasks-TaskRetryReason).
	PreviousResponse int
	RetryReason      string
	// Headers are the task's http_request.headers (Content-Type among them: Cloud Tasks sets none).
	Headers map[string]string
}

// CloudTasksRequest builds the request Cloud Tasks sends for an attempt of an HTTP-target task:
// the task's method, body and headers except those it sets or drops (Host, Content-Length,
// User-Agent, X-Google-*, X-AppEngine-*, X-CloudTasks-*), User-Agent Google-Cloud-Tasks
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#HttpRequest)
// and the X-CloudTasks-* headers of the attempt
// (https://cloud.google.com/tasks/docs/creating-http-target-tasks). Our emulator
// (shared/emulators/tasksemulator) sends the same. A non-empty token is the task's OIDC token.
func CloudTasksRequest(ctx context.Context, url, method string, body []byte, a TaskAttempt, token string) (*http.Request, error) {
	req, err := newRequest(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	h := req.Header
	for k, v := range a.Headers {
		if !serviceHeader(k, "x-cloudtasks-") {
			h.Set(k, v)
		}
	}
	h.Set("User-Agent", TasksUserAgent)
	h.Set("X-CloudTasks-QueueName", a.Queue)
	h.Set("X-CloudTasks-TaskName", a.Task)
	h.Set("X-CloudTasks-TaskRetryCount", strconv.Itoa(a.RetryCount))
	h.Set("X-CloudTasks-TaskExecutionCount", strconv.Itoa(a.ExecutionCount))
	h.Set("X-CloudTasks-TaskETA", fmt.Sprintf("%d.%06d", a.ETA.Unix(), a.ETA.Nanosecond()/1000))
	if a.PreviousResponse != 0 {
		h.Set("X-CloudTasks-TaskPreviousResponse", strconv.Itoa(a.PreviousResponse))
	}
	if a.RetryReason != "" {
		h.Set("X-CloudTasks-TaskRetryReason", a.RetryReason)
	}
	bearer(req, token) // the task's token replaces an Authorization of its headers
	return req, nil
}

// newRequest is a request of method to url carrying body.
func newRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building the request to %s: %w", url, err)
	}
	return req, nil
}

// bearer sets the OIDC token each service sends as "Authorization: Bearer", when there is one.
func bearer(req *http.Request, token string) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

// serviceHeader reports whether a caller-set header is one the service computes, replaces or
// drops: Host, Content-Length, User-Agent, X-Google-*, X-AppEngine-* and the service's own prefix.
func serviceHeader(name, ownPrefix string) bool {
	n := strings.ToLower(name)
	switch n {
	case "host", "content-length", "user-agent":
		return true
	}
	return strings.HasPrefix(n, "x-google-") || strings.HasPrefix(n, "x-appengine-") || strings.HasPrefix(n, ownPrefix)
}
