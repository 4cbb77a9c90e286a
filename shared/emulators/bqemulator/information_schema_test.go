package bqemulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
)

// seedInfoSchema creates ds.events (every type, a partitioned and clustered table, made through
// the client as a user would), ds.users, the view ds.recent, and the empty dataset other.
func seedInfoSchema(t *testing.T, srv *Server, client *bigquery.Client) {
	t.Helper()
	ctx := context.Background()
	if err := srv.CreateDataset(ctx, "", "ds"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDataset(ctx, "", "other"); err != nil {
		t.Fatal(err)
	}
	err := client.Dataset("ds").Table("events").Create(ctx, &bigquery.TableMetadata{
		Schema: bigquery.Schema{
			{Name: "id", Type: bigquery.StringFieldType, Required: true},
			{Name: "t", Type: bigquery.TimestampFieldType},
			{Name: "n", Type: bigquery.IntegerFieldType},
			{Name: "score", Type: bigquery.FloatFieldType},
			{Name: "amount", Type: bigquery.NumericFieldType},
			{Name: "ok", Type: bigquery.BooleanFieldType},
			{Name: "day", Type: bigquery.DateFieldType},
			{Name: "raw", Type: bigquery.BytesFieldType},
			{Name: "payload", Type: bigquery.JSONFieldType},
			{Name: "tags", Type: bigquery.StringFieldType, Repeated: true},
			{Name: "user", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{
				{Name: "name", Type: bigquery.StringFieldType},
				{Name: "langs", Type: bigquery.StringFieldType, Repeated: true},
			}},
		},
		TimePartitioning: &bigquery.TimePartitioning{Field: "t"},
		Clustering:       &bigquery.Clustering{Fields: []string{"id"}},
	})
	if err != nil {
		t.Fatalf("creating ds.events: %v", err)
	}
	if err := srv.CreateTable(ctx, "", "ds", "users", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "user_id", Type: "STRING", Mode: "REQUIRED"}, {Name: "joined", Type: "DATE"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateView(ctx, "", "ds", "recent", "SELECT id, t FROM ds.events WHERE n > 0"); err != nil {
		t.Fatal(err)
	}
}

func TestInformationSchemaTables(t *testing.T) {
	srv, client, clock := newTestServer(t)
	seedInfoSchema(t, srv, client)
	ctx := context.Background()
	created := clock.Now()
	tests := []struct {
		name string
		sql  string
		want []map[string]bigquery.Value
	}{
		{
			name: "dataset.INFORMATION_SCHEMA.TABLES",
			sql:  "SELECT table_catalog, table_schema, table_name, table_type, creation_time FROM ds.INFORMATION_SCHEMA.TABLES ORDER BY table_name",
			want: []map[string]bigquery.Value{
				{"table_catalog": testProject, "table_schema": "ds", "table_name": "events", "table_type": "BASE TABLE", "creation_time": created},
				{"table_catalog": testProject, "table_schema": "ds", "table_name": "recent", "table_type": "VIEW", "creation_time": created},
				{"table_catalog": testProject, "table_schema": "ds", "table_name": "users", "table_type": "BASE TABLE", "creation_time": created},
			},
		},
		{
			name: "backticked project.dataset, alias and upper-case columns",
			sql:  "SELECT T.TABLE_NAME AS name, T.is_insertable_into FROM `test-project.ds`.INFORMATION_SCHEMA.TABLES AS T WHERE table_type = 'VIEW'",
			want: []map[string]bigquery.Value{{"name": "recent", "is_insertable_into": "NO"}},
		},
		{
			name: "fully backticked path",
			sql:  "SELECT COUNT(*) AS n FROM `test-project.ds.INFORMATION_SCHEMA.TABLES`",
			want: []map[string]bigquery.Value{{"n": int64(3)}},
		},
		{
			name: "empty dataset",
			sql:  "SELECT table_name FROM other.INFORMATION_SCHEMA.TABLES",
			want: nil,
		},
		{
			name: "region qualifier lists every dataset of the project",
			sql:  "SELECT table_schema, COUNT(*) AS n FROM `region-us`.INFORMATION_SCHEMA.TABLES GROUP BY table_schema",
			want: []map[string]bigquery.Value{{"table_schema": "ds", "n": int64(3)}},
		},
		{
			name: "ddl",
			sql:  "SELECT ddl FROM ds.INFORMATION_SCHEMA.TABLES WHERE table_name = 'users'",
			want: []map[string]bigquery.Value{{"ddl": "CREATE TABLE `test-project.ds.users`\n(\n  user_id STRING NOT NULL,\n  joined DATE\n);"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := client.Query(tc.sql).Read(ctx)
			if err != nil {
				t.Fatalf("Query(%q) error = %v", tc.sql, err)
			}
			if diff := cmp.Diff(tc.want, readAll(t, it)); diff != "" {
				t.Errorf("Query(%q) rows (-want +got):\n%s", tc.sql, diff)
			}
		})
	}

	// The result schema has BigQuery's types, and a table created after one query shows in the next.
	it, err := client.Query("SELECT * FROM ds.INFORMATION_SCHEMA.TABLES").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, it)
	gotTypes := map[string]bigquery.FieldType{}
	for _, f := range it.Schema {
		gotTypes[f.Name] = f.Type
	}
	for name, want := range map[string]bigquery.FieldType{"table_name": bigquery.StringFieldType, "creation_time": bigquery.TimestampFieldType, "ddl": bigquery.StringFieldType} {
		if gotTypes[name] != want {
			t.Errorf("schema of INFORMATION_SCHEMA.TABLES: %s is %q, want %q", name, gotTypes[name], want)
		}
	}
	clock.Advance(time.Hour)
	if err := srv.CreateTable(ctx, "", "other", "late", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "x", Type: "INTEGER"}}}); err != nil {
		t.Fatal(err)
	}
	q := client.Query("SELECT table_name, creation_time FROM INFORMATION_SCHEMA.TABLES")
	q.DefaultDatasetID = "other"
	it, err = q.Read(ctx)
	if err != nil {
		t.Fatalf("INFORMATION_SCHEMA.TABLES under a default dataset: %v", err)
	}
	want := []map[string]bigquery.Value{{"table_name": "late", "creation_time": created.Add(time.Hour)}}
	if diff := cmp.Diff(want, readAll(t, it)); diff != "" {
		t.Errorf("default dataset rows (-want +got):\n%s", diff)
	}
}

func TestInformationSchemaColumns(t *testing.T) {
	srv, client, _ := newTestServer(t)
	seedInfoSchema(t, srv, client)
	ctx := context.Background()
	it, err := client.Query("SELECT table_catalog, table_schema, table_name, column_name, ordinal_position, is_nullable, data_type, is_partitioning_column, clustering_ordinal_position " +
		"FROM `test-project.ds`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'events' ORDER BY ordinal_position").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	col := func(pos int64, name, nullable, typ string) map[string]bigquery.Value {
		part, cluster := "NO", bigquery.Value(nil)
		if name == "t" {
			part = "YES"
		}
		if name == "id" {
			cluster = int64(1)
		}
		return map[string]bigquery.Value{"table_catalog": testProject, "table_schema": "ds", "table_name": "events",
			"column_name": name, "ordinal_position": pos, "is_nullable": nullable, "data_type": typ,
			"is_partitioning_column": part, "clustering_ordinal_position": cluster}
	}
	want := []map[string]bigquery.Value{
		col(1, "id", "NO", "STRING"),
		col(2, "t", "YES", "TIMESTAMP"),
		col(3, "n", "YES", "INT64"),
		col(4, "score", "YES", "FLOAT64"),
		col(5, "amount", "YES", "NUMERIC"),
		col(6, "ok", "YES", "BOOL"),
		col(7, "day", "YES", "DATE"),
		col(8, "raw", "YES", "BYTES"),
		col(9, "payload", "YES", "JSON"),
		col(10, "tags", "NO", "ARRAY<STRING>"),
		col(11, "user", "YES", "STRUCT<name STRING, langs ARRAY<STRING>>"),
	}
	if diff := cmp.Diff(want, readAll(t, it)); diff != "" {
		t.Errorf("COLUMNS of ds.events (-want +got):\n%s", diff)
	}
	var ordinal bigquery.FieldType
	for _, f := range it.Schema {
		if f.Name == "ordinal_position" {
			ordinal = f.Type
		}
	}
	if ordinal != bigquery.IntegerFieldType {
		t.Errorf("ordinal_position type = %q, want INTEGER", ordinal)
	}

	// A view's columns, joined to TABLES as a user would to list a dataset's schema.
	it, err = client.Query("SELECT c.table_name, t.table_type, c.column_name, c.data_type FROM ds.INFORMATION_SCHEMA.COLUMNS c " +
		"JOIN ds.INFORMATION_SCHEMA.TABLES t USING (table_name) WHERE t.table_type = 'VIEW' ORDER BY c.ordinal_position").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantView := []map[string]bigquery.Value{
		{"table_name": "recent", "table_type": "VIEW", "column_name": "id", "data_type": "STRING"},
		{"table_name": "recent", "table_type": "VIEW", "column_name": "t", "data_type": "TIMESTAMP"},
	}
	if diff := cmp.Diff(wantView, readAll(t, it)); diff != "" {
		t.Errorf("view columns (-want +got):\n%s", diff)
	}
}

func TestInformationSchemaErrors(t *testing.T) {
	srv, client, _ := newTestServer(t)
	seedInfoSchema(t, srv, client)
	ctx := context.Background()
	tests := []struct {
		name     string
		sql      string
		wantCode int
		wantMsg  string
	}{
		{"missing dataset", "SELECT * FROM nope.INFORMATION_SCHEMA.TABLES", 404, "Dataset test-project:nope was not found"},
		{"other view", "SELECT * FROM ds.INFORMATION_SCHEMA.SCHEMATA", 400, "only TABLES and COLUMNS"},
		{"no dataset", "SELECT * FROM INFORMATION_SCHEMA.TABLES", 400, "must be qualified with a dataset"},
		{"other region", "SELECT * FROM `region-eu`.INFORMATION_SCHEMA.TABLES", 400, "location US"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Query(tc.sql).Read(ctx)
			var ge *googleapi.Error
			if !errors.As(err, &ge) {
				t.Fatalf("Query(%q) error = %v, want *googleapi.Error", tc.sql, err)
			}
			if ge.Code != tc.wantCode || !strings.Contains(ge.Message, tc.wantMsg) {
				t.Errorf("Query(%q) error = %d %q, want %d containing %q", tc.sql, ge.Code, ge.Message, tc.wantCode, tc.wantMsg)
			}
		})
	}
	// A view would freeze the catalog as it was, so views over INFORMATION_SCHEMA are refused.
	err := client.Dataset("ds").Table("tables").Create(ctx, &bigquery.TableMetadata{ViewQuery: "SELECT table_name FROM ds.INFORMATION_SCHEMA.TABLES"})
	if apiCode(err) != 400 {
		t.Errorf("CreateView over INFORMATION_SCHEMA error = %v, want 400", err)
	}
}

// TestTableDDL covers the DDL of partitioned and clustered tables and views.
func TestTableDDL(t *testing.T) {
	ref := &bq.TableReference{ProjectId: "p", DatasetId: "d", TableId: "t"}
	fields := []*bq.TableFieldSchema{{Name: "t", Type: "TIMESTAMP"}, {Name: "d", Type: "DATE"}, {Name: "id", Type: "STRING", Mode: "REQUIRED"}}
	tests := []struct {
		name string
		t    *bq.Table
		want string
	}{
		{"timestamp by day, clustered", &bq.Table{TableReference: ref, Schema: &bq.TableSchema{Fields: fields},
			TimePartitioning: &bq.TimePartitioning{Type: "DAY", Field: "t"}, Clustering: &bq.Clustering{Fields: []string{"id"}}},
			"CREATE TABLE `p.d.t`\n(\n  t TIMESTAMP,\n  d DATE,\n  id STRING NOT NULL\n)\nPARTITION BY DATE(t)\nCLUSTER BY id;"},
		{"timestamp by hour", &bq.Table{TableReference: ref, Schema: &bq.TableSchema{Fields: fields}, TimePartitioning: &bq.TimePartitioning{Type: "HOUR", Field: "t"}},
			"CREATE TABLE `p.d.t`\n(\n  t TIMESTAMP,\n  d DATE,\n  id STRING NOT NULL\n)\nPARTITION BY TIMESTAMP_TRUNC(t, HOUR);"},
		{"date by month", &bq.Table{TableReference: ref, Schema: &bq.TableSchema{Fields: fields}, TimePartitioning: &bq.TimePartitioning{Type: "MONTH", Field: "d"}},
			"CREATE TABLE `p.d.t`\n(\n  t TIMESTAMP,\n  d DATE,\n  id STRING NOT NULL\n)\nPARTITION BY DATE_TRUNC(d, MONTH);"},
		{"ingestion time", &bq.Table{TableReference: ref, Schema: &bq.TableSchema{Fields: fields[:1]}, TimePartitioning: &bq.TimePartitioning{Type: "DAY"}},
			"CREATE TABLE `p.d.t`\n(\n  t TIMESTAMP\n)\nPARTITION BY _PARTITIONDATE;"},
		{"view", &bq.Table{TableReference: ref, View: &bq.ViewDefinition{Query: "SELECT 1 AS x"}},
			"CREATE VIEW `p.d.t`\nAS SELECT 1 AS x;"},
	}
	for _, tc := range tests {
		if got := tableDDL(tc.t); got != tc.want {
			t.Errorf("%s: tableDDL() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
