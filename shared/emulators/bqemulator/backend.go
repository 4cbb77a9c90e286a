package bqemulator

import (
	"context"
	"fmt"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/grpc"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator/storagewrite"
)

// writeBackend adapts the server to storagewrite.Backend, sharing the
// validator and appender with tabledata.insertAll.
type writeBackend struct{ s *Server }

var _ storagewrite.Backend = writeBackend{}

// TableSchema returns a table's schema, or an error wrapping storagewrite.ErrNotFound.
func (b writeBackend) TableSchema(ctx context.Context, project, dataset, table string) (*bq.TableSchema, error) {
	t, err := b.s.insertTable(project, dataset, table)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("table %s:%s.%s: %w", project, dataset, table, storagewrite.ErrNotFound)
		}
		return nil, err
	}
	return t.Schema, nil
}

// AppendRows validates canonical rows and appends them all, or none with per-row errors.
func (b writeBackend) AppendRows(ctx context.Context, project, dataset, table string, rows []map[string]any) ([]storagewrite.RowError, error) {
	t, err := b.s.insertTable(project, dataset, table)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("table %s:%s.%s: %w", project, dataset, table, storagewrite.ErrNotFound)
		}
		return nil, err
	}
	var rowErrs []storagewrite.RowError
	for i, row := range rows {
		if errs := validateRow(t.Schema.Fields, row, ""); len(errs) > 0 {
			msgs := make([]string, len(errs))
			for j, e := range errs {
				msgs[j] = e.Error()
			}
			rowErrs = append(rowErrs, storagewrite.RowError{Index: i, Message: strings.Join(msgs, "; ")})
		}
	}
	if len(rowErrs) > 0 {
		return rowErrs, nil
	}
	return nil, b.s.appendRows(ctx, t, rows)
}

// storageWrite builds the Storage Write API service served on the shared gRPC port.
func (s *Server) storageWrite() (opts []grpc.ServerOption, register func(*grpc.Server)) {
	svc := storagewrite.NewService(writeBackend{s},
		storagewrite.WithClock(s.cfg.clock),
		storagewrite.WithLogger(s.logger),
		storagewrite.WithFaults(s.faults),
		storagewrite.WithLatency(s.cfg.latency),
	)
	return svc.ServerOptions(), svc.Register
}
