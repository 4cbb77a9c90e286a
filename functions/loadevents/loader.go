package loadevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Handle is the CloudEvent entry point. A nil return acknowledges the message; an error makes
// Pub/Sub redeliver it. Only transient failures return an error: a message that can never load
// is dead-lettered and acknowledged, so it cannot block the subscription.
func (l *Loader) Handle(ctx context.Context, e cloudevents.Event) error {
	m, err := messageOf(e)
	if err != nil {
		// Nothing in the event says which message it was beyond the event id; keep it all.
		bad := event.Message{ID: e.ID(), PublishTime: e.Time(), Data: e.Data(), Attributes: map[string]string{"ce-type": e.Type(), "ce-source": e.Source()}}
		return l.deadLetter(ctx, bad, event.StageDecode, err, "")
	}
	return l.Load(ctx, m)
}

// messageOf is the Pub/Sub message a messagePublished CloudEvent carries.
func messageOf(e cloudevents.Event) (event.Message, error) {
	return event.MessageOfPush(e.Data(), e.ID(), e.Time())
}

// Load writes one message's row, or its dead letter.
func (l *Loader) Load(ctx context.Context, m event.Message) error {
	rec, err := event.Decode(m, l.now())
	if err != nil {
		// Never decoded: the kind is the attribute's, or "unclassified" (event.NewDeadLetter).
		return l.deadLetter(ctx, m, event.StageDecode, err, "")
	}
	err = l.w.Append(ctx, rec.Table, []map[string]any{event.Values(rec.Row)})
	var rowErrs *warehouse.RowErrors
	switch {
	case err == nil:
		// The row is durable now: Append returns once BigQuery has it. The latency from publish
		// to here feeds the pipeline_latency log-based metric (terraform/monitoring.tf).
		l.log.InfoContext(ctx, "message loaded", "message_id", m.ID, "table", rec.Table, "kind", rec.Kind,
			"publish_to_durable_s", l.now().Sub(m.PublishTime).Seconds())
		return nil
	case errors.As(err, &rowErrs):
		// BigQuery will refuse these bytes every time: retrying would only block the subscription.
		return l.deadLetter(ctx, m, event.StageAppend, rowErrs, rec.Kind)
	default:
		// Transient (unavailable, deadline, quota): Pub/Sub redelivers with backoff.
		return fmt.Errorf("loading message %s into %s: %w", m.ID, rec.Table, err)
	}
}

// deadLetter stores m's dead letter, cause being why it can never load. Its log line names the
// field at fault when the cause is an *event.InvalidError (the dead_letters log-based metric's
// field label, terraform/monitoring.tf), and "" otherwise.
func (l *Loader) deadLetter(ctx context.Context, m event.Message, stage string, cause error, kind event.Kind) error {
	reason := cause.Error()
	field := ""
	if inv, ok := errors.AsType[*event.InvalidError](cause); ok {
		field = inv.Field
	}
	row := event.NewDeadLetter(m, stage, reason, kind, l.now())
	if err := l.w.Append(ctx, event.TableDeadLetters, []map[string]any{event.Values(row)}); err != nil {
		// Not acknowledged: Pub/Sub redelivers, and its own dead-letter topic is the last resort.
		return fmt.Errorf("dead-lettering message %s (%s): %w", m.ID, reason, err)
	}
	l.log.WarnContext(ctx, "message dead-lettered", "message_id", m.ID, "stage", stage, "reason", reason, "kind", row.Kind, "field", field)
	return nil
}
