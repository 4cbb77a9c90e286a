package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// Both helpers below deliver something a second time on purpose: Cloud Tasks and Pub/Sub deliver
// at least once, and a duplicate must change nothing but raw rows that the dedup views collapse.

// RedeliverTask sends a recorded Cloud Tasks attempt again, with the same method, URL, headers
// and body, as Cloud Tasks does when it delivers a task twice. It returns the target's status
// and body.
func (s *Stack) RedeliverTask(ctx context.Context, rec tasksemulator.DispatchRecord) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, rec.Method, rec.URL, bytes.NewReader(rec.Body))
	if err != nil {
		return 0, nil, fmt.Errorf("redelivering task %s: %w", rec.Task, err)
	}
	req.Header = rec.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("redelivering task %s: %w", rec.Task, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer to task %s: %w", rec.Task, err)
	}
	return resp.StatusCode, body, nil
}

// DeliverMessage posts one Pub/Sub message of the events topic to LoadEvents as Eventarc does,
// bypassing the subscription, so that a test can deliver the same message any number of times.
// It returns the function's status.
func (s *Stack) DeliverMessage(ctx context.Context, m PushMessage) (int, error) {
	publishTime, err := time.Parse(time.RFC3339Nano, m.PublishTime)
	if err != nil {
		return 0, fmt.Errorf("delivering message %s: publishTime: %w", m.MessageID, err)
	}
	body := PushBody{Message: m, Subscription: publish.SubscriptionName(s.Project, LoaderSub)}
	req, err := CloudEventRequest(ctx, s.Functions.URL+"/LoadEvents", publish.TopicName(s.Project, EventsTopic), body, publishTime)
	if err != nil {
		return 0, fmt.Errorf("delivering message %s: %w", m.MessageID, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("delivering message %s: %w", m.MessageID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
