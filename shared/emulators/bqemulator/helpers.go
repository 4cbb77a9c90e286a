package bqemulator

import (
	"context"
	"fmt"
	"strconv"

	bq "google.golang.org/api/bigquery/v2"
)

// insertDataset fills server-side fields and creates the dataset.
func (s *Server) insertDataset(ctx context.Context, ds *bq.Dataset) (*bq.Dataset, error) {
	r := ds.DatasetReference
	now := s.now().UnixMilli()
	ds.Kind = "bigquery#dataset"
	ds.Id = r.ProjectId + ":" + r.DatasetId
	ds.SelfLink = s.Endpoint() + "projects/" + r.ProjectId + "/datasets/" + r.DatasetId
	ds.CreationTime = now
	ds.LastModifiedTime = now
	ds.Etag = strconv.FormatInt(now, 36)
	if ds.Location == "" {
		ds.Location = "US"
	}
	if err := s.cat.createDataset(ctx, ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// CreateDataset creates a dataset (an empty project means the default project).
func (s *Server) CreateDataset(ctx context.Context, project, dataset string) error {
	if project == "" {
		project = s.cfg.project
	}
	_, err := s.insertDataset(ctx, &bq.Dataset{DatasetReference: &bq.DatasetReference{ProjectId: project, DatasetId: dataset}})
	if err != nil {
		return fmt.Errorf("creating dataset %s:%s: %w", project, dataset, err)
	}
	return nil
}

// CreateTable creates a table with schema (an empty project means the default project).
func (s *Server) CreateTable(ctx context.Context, project, dataset, table string, schema *bq.TableSchema) error {
	if project == "" {
		project = s.cfg.project
	}
	t := &bq.Table{TableReference: &bq.TableReference{ProjectId: project, DatasetId: dataset, TableId: table}, Schema: schema}
	if _, err := s.insertTableMeta(ctx, t); err != nil {
		return fmt.Errorf("creating table %s:%s.%s: %w", project, dataset, table, err)
	}
	return nil
}

// CreateView creates a view over a Standard SQL query.
func (s *Server) CreateView(ctx context.Context, project, dataset, view, query string) error {
	if project == "" {
		project = s.cfg.project
	}
	t := &bq.Table{TableReference: &bq.TableReference{ProjectId: project, DatasetId: dataset, TableId: view}, View: &bq.ViewDefinition{Query: query}}
	if _, err := s.insertTableMeta(ctx, t); err != nil {
		return fmt.Errorf("creating view %s:%s.%s: %w", project, dataset, view, err)
	}
	return nil
}

// InsertRows validates canonical rows (see the package doc for Go types) and appends them all or none.
func (s *Server) InsertRows(ctx context.Context, project, dataset, table string, rows []map[string]any) error {
	if project == "" {
		project = s.cfg.project
	}
	rowErrs, err := writeBackend{s}.AppendRows(ctx, project, dataset, table, rows)
	if err != nil {
		return fmt.Errorf("inserting rows into %s:%s.%s: %w", project, dataset, table, err)
	}
	if len(rowErrs) > 0 {
		return fmt.Errorf("inserting rows into %s:%s.%s: row %d: %s", project, dataset, table, rowErrs[0].Index, rowErrs[0].Message)
	}
	return nil
}

// Rows returns every row of a table in insertion order, as canonical Go values.
func (s *Server) Rows(ctx context.Context, project, dataset, table string) ([]map[string]any, error) {
	if project == "" {
		project = s.cfg.project
	}
	t, err := s.cat.table(project, dataset, table)
	if err != nil {
		return nil, fmt.Errorf("reading rows of %s:%s.%s: %w", project, dataset, table, err)
	}
	if t.View != nil {
		return s.Query(ctx, "SELECT * FROM `"+project+"."+dataset+"."+table+"`")
	}
	_, rows, err := s.readTable(ctx, project, dataset, table, t.Schema.Fields, 0, 1<<62)
	if err != nil {
		return nil, fmt.Errorf("reading rows of %s:%s.%s: %w", project, dataset, table, err)
	}
	return rows, nil
}

// Query runs a BigQuery Standard SQL query (default project) and returns canonical rows.
func (s *Server) Query(ctx context.Context, sql string) ([]map[string]any, error) {
	_, rows, _, err := s.execQuery(ctx, queryJobRequest{project: s.cfg.project, config: &bq.JobConfigurationQuery{Query: sql}})
	if err != nil {
		return nil, fmt.Errorf("running query: %w", err)
	}
	return rows, nil
}
