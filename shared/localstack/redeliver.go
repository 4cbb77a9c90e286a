package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
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

// DeliverMessage posts one Pub/Sub message of the events topic to LoadEvents as the loader's push
// subscription does, bypassing the subscription, so that a test can deliver the same message any
// number of times. It returns the function's status.
func (s *Stack) DeliverMessage(ctx context.Context, m PushMessage) (int, error) {
	return s.deliverPush(ctx, LoaderSub, m)
}

// pushURL is where subscription sub pushes on this stack: the function's local URL and the path
// Terraform's push endpoint adds to it.
func (s *Stack) pushURL(sub string) (string, error) {
	ep, err := pushTarget(sub)
	if err != nil {
		return "", err
	}
	return s.Functions.URL + "/" + ep.Function + localPath(ep.Path, s.Project), nil
}

// deliverPush posts m as subscription sub's push request.
func (s *Stack) deliverPush(ctx context.Context, sub string, m PushMessage) (int, error) {
	url, err := s.pushURL(sub)
	if err != nil {
		return 0, err
	}
	body := PushBody{Message: m, Subscription: publish.SubscriptionName(s.Project, sub)}
	req, err := pushdelivery.PushRequest(ctx, url, body, "")
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
