package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"

	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// Parts are a redrive's connections to one project: the BigQuery query client (Source), the
// events topic (Publisher) and the Storage Write client (Recorder).
type Parts struct {
	Source    BigQuerySource
	Publisher PubSubPublisher
	Recorder  WriterRecorder
	closers   []func() error
}

// Close flushes the publisher and closes every client.
func (p *Parts) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	return errors.Join(errs...)
}

// Connect opens the clients with Application Default Credentials, or against the local servers
// that BIGQUERY_EMULATOR_HOST and PUBSUB_EMULATOR_HOST name.
func Connect(ctx context.Context, project, dataset, topic string, log *slog.Logger) (_ *Parts, err error) {
	p := &Parts{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	bq, err := bigquery.NewClient(ctx, project, warehouse.RESTClientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("creating the BigQuery client: %w", err)
	}
	p.closers = append(p.closers, bq.Close)
	p.Source = BigQuerySource{Client: bq, Project: project, Dataset: dataset}
	w, err := warehouse.New(ctx, project, dataset, schemas.Table, log, warehouse.WriteClientOptions()...)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, w.Close)
	p.Recorder = WriterRecorder{W: w}
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("creating the Pub/Sub client: %w", err)
	}
	p.closers = append(p.closers, ps.Close)
	pub := publish.New(ps, topic, publish.DefaultSettings())
	p.closers = append(p.closers, func() error { pub.Stop(); return nil })
	p.Publisher = PubSubPublisher{P: pub}
	return p, nil
}
