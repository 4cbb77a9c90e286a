package redrive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// BigQuerySource reads pending dead letters from a dataset's dead_letters_pending view.
type BigQuerySource struct {
	Client  *bigquery.Client
	Project string
	Dataset string
}

// SelectQuery is the query Pending runs: f's conditions as query parameters, oldest first (then
// by message id, so the order is total and a rerun walks the same order).
func SelectQuery(project, dataset string, f Filter, limit int) (string, []bigquery.QueryParameter) {
	sql := fmt.Sprintf("SELECT dead_lettered_at, message_id, publish_time, subscription, delivery_attempt, stage, reason, kind, source, attributes, data, data_bytes\n"+
		"FROM `%s.%s.%s`\nWHERE dead_lettered_at >= @since AND dead_lettered_at < @until", project, dataset, warehouse.ViewDeadLettersPending)
	params := []bigquery.QueryParameter{{Name: "since", Value: f.Since.UTC()}, {Name: "until", Value: f.Until.UTC()}}
	if f.Stage != "" {
		sql += " AND stage = @stage"
		params = append(params, bigquery.QueryParameter{Name: "stage", Value: f.Stage})
	}
	if f.Kind != "" {
		sql += " AND kind = @kind"
		params = append(params, bigquery.QueryParameter{Name: "kind", Value: f.Kind})
	}
	switch {
	case f.Reason != "" && f.ReasonExact:
		sql += " AND reason = @reason"
		params = append(params, bigquery.QueryParameter{Name: "reason", Value: f.Reason})
	case f.Reason != "":
		// STRPOS is a plain, case-sensitive substring test: no pattern characters to escape.
		sql += " AND STRPOS(reason, @reason) > 0"
		params = append(params, bigquery.QueryParameter{Name: "reason", Value: f.Reason})
	}
	sql += fmt.Sprintf("\nORDER BY dead_lettered_at, message_id\nLIMIT %d", limit)
	return sql, params
}

// Pending runs SelectQuery and yields each row.
func (s BigQuerySource) Pending(ctx context.Context, f Filter, limit int, yield func(*event.DeadLetterRow) error) error {
	sql, params := SelectQuery(s.Project, s.Dataset, f, limit)
	q := s.Client.Query(sql)
	q.Parameters = params
	it, err := q.Read(ctx)
	if err != nil {
		return fmt.Errorf("selecting dead letters from %s.%s: %w", s.Dataset, warehouse.ViewDeadLettersPending, err)
	}
	for {
		var r scanRow
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading dead letters from %s.%s: %w", s.Dataset, warehouse.ViewDeadLettersPending, err)
		}
		if err := yield(r.row()); err != nil {
			return err
		}
	}
}

// scanRow is a dead letter as the BigQuery client reads it: its row loader takes NULL integers
// as bigquery.NullInt64, not as the *int64 of event.DeadLetterRow.
type scanRow struct {
	DeadLetteredAt  time.Time              `bigquery:"dead_lettered_at"`
	MessageID       bigquery.NullString    `bigquery:"message_id"`
	PublishTime     bigquery.NullTimestamp `bigquery:"publish_time"`
	Subscription    bigquery.NullString    `bigquery:"subscription"`
	DeliveryAttempt bigquery.NullInt64     `bigquery:"delivery_attempt"`
	Stage           string                 `bigquery:"stage"`
	Reason          string                 `bigquery:"reason"`
	Kind            bigquery.NullString    `bigquery:"kind"`
	Source          bigquery.NullString    `bigquery:"source"`
	Attributes      []struct {
		Key   string              `bigquery:"key"`
		Value bigquery.NullString `bigquery:"value"`
	} `bigquery:"attributes"`
	Data      []byte             `bigquery:"data"`
	DataBytes bigquery.NullInt64 `bigquery:"data_bytes"`
}

func (r *scanRow) row() *event.DeadLetterRow {
	dl := &event.DeadLetterRow{
		DeadLetteredAt: r.DeadLetteredAt.UTC(), MessageID: r.MessageID.StringVal, PublishTime: r.PublishTime.Timestamp.UTC(),
		Subscription: r.Subscription.StringVal, Stage: r.Stage, Reason: r.Reason, Kind: r.Kind.StringVal,
		Source: r.Source.StringVal, Data: r.Data,
	}
	if !r.PublishTime.Valid {
		dl.PublishTime = time.Time{}
	}
	if r.DeliveryAttempt.Valid {
		dl.DeliveryAttempt = &r.DeliveryAttempt.Int64
	}
	if r.DataBytes.Valid {
		dl.DataBytes = &r.DataBytes.Int64
	}
	for _, a := range r.Attributes {
		dl.Attributes = append(dl.Attributes, event.Attribute{Key: a.Key, Value: a.Value.StringVal})
	}
	return dl
}

// PubSubPublisher publishes through a publish.Publisher (the events topic's).
type PubSubPublisher struct{ P *publish.Publisher }

// Publish implements Publisher.
func (p PubSubPublisher) Publish(ctx context.Context, data []byte, attrs map[string]string) func(context.Context) (string, error) {
	return p.P.Publish(ctx, publish.Message{Data: data, Attributes: attrs}).Get
}

// Appender writes rows to a table; *warehouse.Writer in production.
type Appender interface {
	Append(ctx context.Context, table string, rows []map[string]any) error
}

// WriterRecorder appends redrives rows through the Storage Write API.
type WriterRecorder struct{ W Appender }

// Record implements Recorder.
func (w WriterRecorder) Record(ctx context.Context, rows []Record) error {
	vals := make([]map[string]any, len(rows))
	for i := range rows {
		vals[i] = event.Values(rows[i])
	}
	if err := w.W.Append(ctx, warehouse.TableRedrives, vals); err != nil {
		return fmt.Errorf("appending %d row(s) to %s: %w", len(rows), warehouse.TableRedrives, err)
	}
	return nil
}
