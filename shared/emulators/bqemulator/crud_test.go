package bqemulator

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

var iteratorDone = iterator.Done

func apiCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func TestDatasetCRUD(t *testing.T) {
	_, client, _ := newTestServer(t)
	ctx := context.Background()
	ds := client.Dataset("events")
	if err := ds.Create(ctx, &bigquery.DatasetMetadata{Description: "d"}); err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if err := ds.Create(ctx, nil); apiCode(err) != http.StatusConflict {
		t.Errorf("second Create() error = %v, want 409", err)
	}
	md, err := ds.Metadata(ctx)
	if err != nil {
		t.Fatalf("Metadata() error = %v", err)
	}
	if md.Description != "d" || md.Location != "US" {
		t.Errorf("Metadata() = %+v, want description d, location US", md)
	}
	var ids []string
	it := client.Datasets(ctx)
	for {
		d, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("Datasets.Next() error = %v", err)
		}
		ids = append(ids, d.DatasetID)
	}
	if diff := cmp.Diff([]string{"events"}, ids); diff != "" {
		t.Errorf("Datasets() mismatch (-want +got):\n%s", diff)
	}
	if err := ds.Table("t").Create(ctx, &bigquery.TableMetadata{Schema: bigquery.Schema{{Name: "a", Type: bigquery.StringFieldType}}}); err != nil {
		t.Fatalf("Table.Create() error = %v", err)
	}
	if err := ds.Delete(ctx); apiCode(err) != http.StatusBadRequest {
		t.Errorf("Delete() of non-empty dataset error = %v, want 400", err)
	}
	if err := ds.DeleteWithContents(ctx); err != nil {
		t.Errorf("DeleteWithContents() error = %v", err)
	}
	_, err = ds.Metadata(ctx)
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 404 || len(ge.Errors) == 0 || ge.Errors[0].Reason != "notFound" || ge.Message != "Not found: Dataset test-project:events" {
		t.Errorf("Metadata() after delete error = %#v, want 404 notFound", err)
	}
}

func TestTableCRUDAndSchemaUpdate(t *testing.T) {
	srv, client, _ := newTestServer(t)
	ctx := context.Background()
	if err := srv.CreateDataset(ctx, "", "ds"); err != nil {
		t.Fatal(err)
	}
	tbl := client.Dataset("ds").Table("t")
	schema := bigquery.Schema{
		{Name: "id", Type: bigquery.StringFieldType, Required: true},
		{Name: "n", Type: bigquery.IntegerFieldType},
	}
	err := tbl.Create(ctx, &bigquery.TableMetadata{
		Schema:           schema,
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: ""},
		Clustering:       &bigquery.Clustering{Fields: []string{"id"}},
	})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema}); apiCode(err) != 409 {
		t.Errorf("second Create() error = %v, want 409", err)
	}
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatalf("Metadata() error = %v", err)
	}
	if md.Clustering == nil || md.TimePartitioning == nil || md.Type != bigquery.RegularTable {
		t.Errorf("Metadata() = %+v, want clustering, partitioning, TABLE", md)
	}

	tests := []struct {
		name     string
		schema   bigquery.Schema
		wantCode int
	}{
		{"add nullable column and relax", bigquery.Schema{
			{Name: "id", Type: bigquery.StringFieldType},
			{Name: "n", Type: bigquery.IntegerFieldType},
			{Name: "extra", Type: bigquery.StringFieldType},
		}, 0},
		{"drop column", bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}}, 400},
		{"change type", bigquery.Schema{
			{Name: "id", Type: bigquery.StringFieldType},
			{Name: "n", Type: bigquery.StringFieldType},
			{Name: "extra", Type: bigquery.StringFieldType},
		}, 400},
		{"add required", bigquery.Schema{
			{Name: "id", Type: bigquery.StringFieldType},
			{Name: "n", Type: bigquery.IntegerFieldType},
			{Name: "extra", Type: bigquery.StringFieldType},
			{Name: "req", Type: bigquery.StringFieldType, Required: true},
		}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: tc.schema}, "")
			if got := apiCode(err); got != tc.wantCode {
				t.Errorf("Update() error = %v, want code %d", err, tc.wantCode)
			}
		})
	}
	md, err = tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Schema) != 3 || md.Schema[0].Required {
		t.Errorf("schema after update = %+v, want 3 fields with id relaxed", md.Schema)
	}
	// A row without the relaxed field is now accepted.
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{{Schema: md.Schema, Row: []bigquery.Value{nil, 1, "x"}}}); err != nil {
		t.Errorf("Put() after relax error = %v", err)
	}
	if err := tbl.Delete(ctx); err != nil {
		t.Errorf("Delete() error = %v", err)
	}
	if _, err := tbl.Metadata(ctx); apiCode(err) != 404 {
		t.Errorf("Metadata() after delete error = %v, want 404", err)
	}
}
