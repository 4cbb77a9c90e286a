package pushdelivery

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// request is what a builder produced, as the function receives it.
type request struct {
	Method, URL string
	Header      http.Header
	Body        string
}

func read(t *testing.T, req *http.Request, err error) request {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return request{req.Method, req.URL.String(), req.Header, string(b)}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantPushBody is testBody() as a push subscription sends it: the message id and publish time
// also in snake case, as in https://cloud.google.com/pubsub/docs/push's example.
const wantPushBody = `{"message":{"data":"eyJraW5kIjoic2VhcmNoIiwicXVlcnkiOiJxIn0=","attributes":{"kind":"search"},` +
	`"messageId":"m-1","publishTime":"2026-11-22T09:59:59.5Z","message_id":"m-1","publish_time":"2026-11-22T09:59:59.5Z"},` +
	`"subscription":"projects/p/subscriptions/events-rankings","deliveryAttempt":2}`

// TestBuildersSendTheServicesHeaders pins each request shape to its source (see each builder's
// doc comment): exactly these headers, no more, so a shape cannot drift unnoticed.
func TestBuildersSendTheServicesHeaders(t *testing.T) {
	ctx := context.Background()
	body := testBody()
	sched := time.Date(2026, 11, 22, 10, 1, 0, 0, time.FixedZone("CET", 3600))
	eta := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		got  func() (*http.Request, error)
		want request
	}{
		{"Pub/Sub push", func() (*http.Request, error) {
			return PushRequest(ctx, "https://fn.run.app/"+topic, body, "oidc")
		}, request{"POST", "https://fn.run.app/" + topic, http.Header{
			"Content-Type":  {"application/json"},
			"User-Agent":    {PushUserAgent},
			"Authorization": {"Bearer oidc"},
		}, wantPushBody}},
		{"Pub/Sub push without authentication", func() (*http.Request, error) {
			return PushRequest(ctx, "https://fn.run.app/"+topic, body, "")
		}, request{"POST", "https://fn.run.app/" + topic, http.Header{
			"Content-Type": {"application/json"},
			"User-Agent":   {PushUserAgent},
		}, wantPushBody}},
		{"Eventarc binary CloudEvent", func() (*http.Request, error) {
			return BinaryCloudEventRequest(ctx, "https://fn.run.app/", topic, body, "oidc")
		}, request{"POST", "https://fn.run.app/", http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Ce-Specversion": {"1.0"},
			"Ce-Type":        {MessagePublishedType},
			"Ce-Source":      {"//pubsub.googleapis.com/" + topic},
			"Ce-Id":          {"m-1"},
			"Ce-Time":        {"2026-11-22T09:59:59.5Z"},
			"Authorization":  {"Bearer oidc"},
		}, mustJSON(t, body)}},
		{"structured CloudEvent", func() (*http.Request, error) {
			return StructuredCloudEventRequest(ctx, "https://fn.run.app/", topic, body, "")
		}, request{"POST", "https://fn.run.app/", http.Header{
			"Content-Type": {"application/cloudevents+json; charset=UTF-8"},
		}, `{"specversion":"1.0","type":"google.cloud.pubsub.topic.v1.messagePublished","source":"//pubsub.googleapis.com/projects/p/topics/events",` +
			`"id":"m-1","time":"2026-11-22T09:59:59.5Z","datacontenttype":"application/json","data":` + mustJSON(t, body) + `}`}},
		{"Cloud Scheduler, no body (terraform/scheduler.tf)", func() (*http.Request, error) {
			return SchedulerRequest(ctx, "https://fn.run.app/backfills:sweep", http.MethodPost, nil,
				SchedulerJob{Name: "backfill-sweep", ScheduleTime: sched}, "oidc")
		}, request{"POST", "https://fn.run.app/backfills:sweep", http.Header{
			"User-Agent":                    {"Google-Cloud-Scheduler"},
			"X-Cloudscheduler":              {"true"},
			"X-Cloudscheduler-Jobname":      {"backfill-sweep"},
			"X-Cloudscheduler-Scheduletime": {"2026-11-22T09:01:00Z"},
			"Authorization":                 {"Bearer oidc"},
		}, ""}},
		{"Cloud Scheduler, body and job headers", func() (*http.Request, error) {
			return SchedulerRequest(ctx, "https://fn.run.app/", http.MethodPut, []byte("tick"), SchedulerJob{Name: "j", Headers: map[string]string{
				"X-Custom": "kept", "User-Agent": "mine", "X-Google-Foo": "dropped", "X-AppEngine-Bar": "dropped",
				"X-CloudScheduler-JobName": "forged", "Authorization": "Bearer forged",
			}}, "oidc")
		}, request{"PUT", "https://fn.run.app/", http.Header{
			"X-Custom":                 {"kept"},
			"Content-Type":             {"application/octet-stream"},
			"User-Agent":               {"Google-Cloud-Scheduler"},
			"X-Cloudscheduler":         {"true"},
			"X-Cloudscheduler-Jobname": {"j"},
			"Authorization":            {"Bearer oidc"},
		}, "tick"}},
		{"Cloud Tasks, first attempt", func() (*http.Request, error) {
			return CloudTasksRequest(ctx, "https://worker.run.app", http.MethodPost, []byte(`{}`), TaskAttempt{
				Queue: "backfill", Task: "bf-1-0", ETA: eta, Headers: map[string]string{"Content-Type": "application/json"},
			}, "oidc")
		}, request{"POST", "https://worker.run.app", http.Header{
			"Content-Type":                    {"application/json"},
			"User-Agent":                      {"Google-Cloud-Tasks"},
			"X-Cloudtasks-Queuename":          {"backfill"},
			"X-Cloudtasks-Taskname":           {"bf-1-0"},
			"X-Cloudtasks-Taskretrycount":     {"0"},
			"X-Cloudtasks-Taskexecutioncount": {"0"},
			"X-Cloudtasks-Tasketa":            {"1795341600.123456"},
			"Authorization":                   {"Bearer oidc"},
		}, `{}`}},
		{"Cloud Tasks, a retry", func() (*http.Request, error) {
			return CloudTasksRequest(ctx, "https://worker.run.app", http.MethodPost, nil, TaskAttempt{
				Queue: "backfill", Task: "bf-1-0", RetryCount: 2, ExecutionCount: 1, ETA: eta, PreviousResponse: 503,
				RetryReason: "HTTP 503 Service Unavailable", Headers: map[string]string{"X-CloudTasks-TaskRetryCount": "99", "Host": "evil"},
			}, "")
		}, request{"POST", "https://worker.run.app", http.Header{
			"User-Agent":                        {"Google-Cloud-Tasks"},
			"X-Cloudtasks-Queuename":            {"backfill"},
			"X-Cloudtasks-Taskname":             {"bf-1-0"},
			"X-Cloudtasks-Taskretrycount":       {"2"},
			"X-Cloudtasks-Taskexecutioncount":   {"1"},
			"X-Cloudtasks-Tasketa":              {"1795341600.123456"},
			"X-Cloudtasks-Taskpreviousresponse": {"503"},
			"X-Cloudtasks-Taskretryreason":      {"HTTP 503 Service Unavailable"},
		}, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.got()
			if diff := cmp.Diff(tc.want, read(t, req, err)); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAcked: the statuses a push endpoint acknowledges with, and some that look like success but
// make Pub/Sub deliver again (https://cloud.google.com/pubsub/docs/push).
func TestAcked(t *testing.T) {
	got := map[int]bool{}
	for _, s := range []int{102, 200, 201, 202, 203, 204, 206, 301, 400, 429, 500, 503} {
		got[s] = Acked(s)
	}
	want := map[int]bool{102: true, 200: true, 201: true, 202: true, 203: false, 204: true, 206: false, 301: false, 400: false, 429: false, 500: false, 503: false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Acked (-want +got):\n%s", diff)
	}
}
