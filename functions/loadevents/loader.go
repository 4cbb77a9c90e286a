package loadevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// Appender writes rows to a table; *warehouse.Writer in production.
type Appender interface {
	Append(ctx context.Context, table string, rows []map[string]any) error
}

// Loader decides, for each message, whether it is loaded, dead-lettered, or retried.
type Loader struct {
	w   Appender
	now func() time.Time
	log *slog.Logger
}

// NewLoader returns a Loader writing through w; now and log default to time.Now and slog.Default.
func NewLoader(w Appender, now func() time.Time, log *slog.Logger) *Loader {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Loader{w: w, now: now, log: log}
}

// messagePublishedData is the data of a google.cloud.pubsub.topic.v1.messagePublished CloudEvent.
// Push deliveries carry both camelCase and snake_case spellings of some fields.
type messagePublishedData struct {
	Message struct {
		Data          []byte            `json:"data"`
		Attributes    map[string]string `json:"attributes"`
		MessageID     string            `json:"messageId"`
		MessageIDAlt  string            `json:"message_id"`
		PublishTime   string            `json:"publishTime"`
		PublishTimeAl string            `json:"publish_time"`
	} `json:"message"`
	Subscription    string          `json:"subscription"`
	DeliveryAttempt json.RawMessage `json:"deliveryAttempt"`
}

// Handle is the CloudEvent entry point. A nil return acknowledges the message; an error makes
// Pub/Sub redeliver it. Only transient failures return an error: a message that can never load
// is dead-lettered and acknowledged, so it cannot block the subscription.
func (l *Loader) Handle(ctx context.Context, e cloudevents.Event) error {
	m, err := messageOf(e)
	if err != nil {
		// Nothing in the event says which message it was beyond the event id; keep it all.
		bad := event.Message{ID: e.ID(), PublishTime: e.Time(), Data: e.Data(), Attributes: map[string]string{"ce-type": e.Type(), "ce-source": e.Source()}}
		return l.deadLetter(ctx, bad, event.StageDecode, err.Error(), "")
	}
	return l.Load(ctx, m)
}

func messageOf(e cloudevents.Event) (event.Message, error) {
	var d messagePublishedData
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		return event.Message{}, fmt.Errorf("CloudEvent data is not a Pub/Sub messagePublished JSON object: %v", err)
	}
	m := event.Message{
		ID:           firstNonEmpty(d.Message.MessageID, d.Message.MessageIDAlt, e.ID()),
		Data:         d.Message.Data,
		Attributes:   d.Message.Attributes,
		Subscription: d.Subscription,
	}
	if n, err := strconv.Atoi(string(bytes.Trim(d.DeliveryAttempt, `"`))); err == nil {
		m.DeliveryAttempt = n
	}
	m.PublishTime = e.Time()
	if pt := firstNonEmpty(d.Message.PublishTime, d.Message.PublishTimeAl); pt != "" {
		t, err := time.Parse(time.RFC3339Nano, pt)
		if err != nil {
			return m, fmt.Errorf("message publishTime %q is not an RFC 3339 time", pt)
		}
		m.PublishTime = t
	}
	return m, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Load writes one message's row, or its dead letter.
func (l *Loader) Load(ctx context.Context, m event.Message) error {
	rec, err := event.Decode(m, l.now())
	if err != nil {
		// Never decoded: the kind is the attribute's, or "unclassified" (event.NewDeadLetter).
		return l.deadLetter(ctx, m, event.StageDecode, err.Error(), "")
	}
	err = l.w.Append(ctx, rec.Table, []map[string]any{event.Values(rec.Row)})
	var rowErrs *warehouse.RowErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rowErrs):
		// BigQuery will refuse these bytes every time: retrying would only block the subscription.
		return l.deadLetter(ctx, m, event.StageAppend, rowErrs.Error(), rec.Kind)
	default:
		// Transient (unavailable, deadline, quota): Pub/Sub redelivers with backoff.
		return fmt.Errorf("loading message %s into %s: %w", m.ID, rec.Table, err)
	}
}

func (l *Loader) deadLetter(ctx context.Context, m event.Message, stage, reason string, kind event.Kind) error {
	row := event.NewDeadLetter(m, stage, reason, kind, l.now())
	if err := l.w.Append(ctx, event.TableDeadLetters, []map[string]any{event.Values(row)}); err != nil {
		// Not acknowledged: Pub/Sub redelivers, and its own dead-letter topic is the last resort.
		return fmt.Errorf("dead-lettering message %s (%s): %w", m.ID, reason, err)
	}
	l.log.WarnContext(ctx, "message dead-lettered", "message_id", m.ID, "stage", stage, "reason", reason, "kind", row.Kind)
	return nil
}
