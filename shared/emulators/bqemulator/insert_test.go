package bqemulator

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
)

type author struct {
	Name      string
	Followers int64
}

type tweet struct {
	ID        string
	CreatedAt time.Time
	Day       civil.Date
	Score     float64
	Hashtags  []string
	Author    author
	Mentions  []author
	Raw       []byte
	Ok        bool
	Amount    *big_Rat `bigquery:"-"`
}

// big_Rat keeps NUMERIC out of the struct comparison; NUMERIC is checked through maps.
type big_Rat struct{}

var tweetSchema = &bq.TableSchema{Fields: []*bq.TableFieldSchema{
	{Name: "ID", Type: "STRING", Mode: "REQUIRED"},
	{Name: "CreatedAt", Type: "TIMESTAMP"},
	{Name: "Day", Type: "DATE"},
	{Name: "Score", Type: "FLOAT64"},
	{Name: "Hashtags", Type: "STRING", Mode: "REPEATED"},
	{Name: "Author", Type: "RECORD", Fields: []*bq.TableFieldSchema{{Name: "Name", Type: "STRING"}, {Name: "Followers", Type: "INT64"}}},
	{Name: "Mentions", Type: "STRUCT", Mode: "REPEATED", Fields: []*bq.TableFieldSchema{{Name: "Name", Type: "STRING"}, {Name: "Followers", Type: "INTEGER"}}},
	{Name: "Raw", Type: "BYTES"},
	{Name: "Ok", Type: "BOOL"},
	{Name: "Amount", Type: "NUMERIC"},
}}

func TestNestedRepeatedRoundTrip(t *testing.T) {
	srv, client, _ := newTestServer(t)
	ctx := context.Background()
	if err := srv.CreateDataset(ctx, "", "ds"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateTable(ctx, "", "ds", "tweets", tweetSchema); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 1, 10, 30, 0, 123456000, time.UTC)
	want := []tweet{
		{ID: "1", CreatedAt: ts, Day: civil.Date{Year: 2024, Month: 5, Day: 1}, Score: 1.5, Hashtags: []string{"go", "bq"},
			Author: author{"ann", 10}, Mentions: []author{{"bob", 1}, {"cy", 2}}, Raw: []byte{0, 1, 2}, Ok: true},
		{ID: "2", CreatedAt: ts.Add(time.Hour), Day: civil.Date{Year: 2024, Month: 5, Day: 2}, Hashtags: []string{}, Mentions: []author{}},
	}
	if err := client.Dataset("ds").Table("tweets").Inserter().Put(ctx, want); err != nil {
		t.Fatalf("Put() error = %v", err)
	}
	// BigQuery returns empty arrays, which the client loads as nil slices.
	want[1].Hashtags, want[1].Mentions = nil, nil
	it := client.Dataset("ds").Table("tweets").Read(ctx)
	var got []tweet
	for {
		var tw tweet
		err := it.Next(&tw)
		if err == iteratorDone {
			break
		}
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		got = append(got, tw)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tabledata.list rows mismatch (-want +got):\n%s", diff)
	}

	// The same rows through a query, decoded into []bigquery.Value.
	q := client.Query("SELECT ID, Hashtags, Author, Mentions FROM ds.tweets ORDER BY ID")
	qit, err := q.Read(ctx)
	if err != nil {
		t.Fatalf("Query.Read() error = %v", err)
	}
	var rows [][]bigquery.Value
	for {
		var r []bigquery.Value
		err := qit.Next(&r)
		if err == iteratorDone {
			break
		}
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		rows = append(rows, r)
	}
	wantRows := [][]bigquery.Value{
		{"1", []bigquery.Value{"go", "bq"}, []bigquery.Value{"ann", int64(10)}, []bigquery.Value{[]bigquery.Value{"bob", int64(1)}, []bigquery.Value{"cy", int64(2)}}},
		{"2", []bigquery.Value(nil), []bigquery.Value{"", int64(0)}, []bigquery.Value(nil)},
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("query rows mismatch (-want +got):\n%s", diff)
	}

	// NUMERIC through insertAll with a string value and back through Rows.
	err = client.Dataset("ds").Table("tweets").Inserter().Put(ctx, &bigquery.ValuesSaver{
		Schema: bigquery.Schema{{Name: "ID", Type: bigquery.StringFieldType}, {Name: "Amount", Type: bigquery.NumericFieldType}},
		Row:    []bigquery.Value{"3", mustRat("12.345")},
	})
	if err != nil {
		t.Fatalf("Put(numeric) error = %v", err)
	}
	all, err := srv.Rows(ctx, "", "ds", "tweets")
	if err != nil {
		t.Fatal(err)
	}
	if got := all[2]["Amount"]; got != "12.345" {
		t.Errorf("Rows()[2][Amount] = %v, want 12.345", got)
	}
}

func mustRat(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

func TestInsertAllRowErrors(t *testing.T) {
	srv, client, _ := newTestServer(t)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	if err := srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "STRING", Mode: "REQUIRED"}, {Name: "n", Type: "INTEGER"},
	}}); err != nil {
		t.Fatal(err)
	}
	schema := bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "n", Type: bigquery.StringFieldType}, {Name: "zzz", Type: bigquery.StringFieldType}}
	rows := []*bigquery.ValuesSaver{
		{Schema: schema[:2], Row: []bigquery.Value{"a", "1"}},
		{Schema: schema[:2], Row: []bigquery.Value{"b", "notanumber"}},
		{Schema: schema[:2], Row: []bigquery.Value{nil, "3"}},
		{Schema: schema, Row: []bigquery.Value{"d", "4", "unknown"}},
	}
	tests := []struct {
		name     string
		skip     bool
		ignore   bool
		want     map[int]string // row index -> reason
		wantRows int
	}{
		{"stop on error", false, false, map[int]string{0: "stopped", 1: "invalid", 2: "invalid", 3: "invalid"}, 0},
		{"skip invalid rows", true, false, map[int]string{1: "invalid", 2: "invalid", 3: "invalid"}, 1},
		{"skip and ignore unknown", true, true, map[int]string{1: "invalid", 2: "invalid"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins := client.Dataset("ds").Table("t").Inserter()
			ins.SkipInvalidRows = tc.skip
			ins.IgnoreUnknownValues = tc.ignore
			before, _ := srv.Rows(ctx, "", "ds", "t")
			err := ins.Put(ctx, rows)
			var pme bigquery.PutMultiError
			if !errors.As(err, &pme) {
				t.Fatalf("Put() error = %v, want PutMultiError", err)
			}
			got := map[int]string{}
			for _, re := range pme {
				for _, e := range re.Errors {
					got[re.RowIndex] = e.(*bigquery.Error).Reason
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("row errors mismatch (-want +got):\n%s", diff)
			}
			after, _ := srv.Rows(ctx, "", "ds", "t")
			if n := len(after) - len(before); n != tc.wantRows {
				t.Errorf("rows inserted = %d, want %d", n, tc.wantRows)
			}
		})
	}
}

func TestInsertIDDedup(t *testing.T) {
	srv, client, clock := newTestServer(t)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "id", Type: "STRING"}}})
	schema := bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}}
	put := func(id string) {
		t.Helper()
		err := client.Dataset("ds").Table("t").Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: schema, InsertID: id, Row: []bigquery.Value{id}})
		if err != nil {
			t.Fatalf("Put(%s) error = %v", id, err)
		}
	}
	put("a")
	put("a")
	clock.Advance(59 * time.Second)
	put("a")
	put("b")
	clock.Advance(2 * time.Second) // more than a minute after the first "a"
	put("a")
	rows, err := srv.Rows(ctx, "", "ds", "t")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r["id"].(string))
	}
	if diff := cmp.Diff([]string{"a", "b", "a"}, ids); diff != "" {
		t.Errorf("rows after dedup mismatch (-want +got):\n%s", diff)
	}
}

func TestFaultInjection(t *testing.T) {
	srv, client, _ := newTestServer(t)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "id", Type: "STRING"}}})
	srv.SetFault("tabledata.insertAll", &googleapi.Error{Code: 403, Message: "quota exceeded", Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}}, 2)
	schema := bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}}
	row := &bigquery.ValuesSaver{Schema: schema, Row: []bigquery.Value{"x"}}
	for i := 0; i < 2; i++ {
		err := client.Dataset("ds").Table("t").Inserter().Put(ctx, row)
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != 403 || ge.Errors[0].Reason != "quotaExceeded" || ge.Message != "quota exceeded" {
			t.Errorf("Put() #%d error = %v, want 403 quotaExceeded", i, err)
		}
	}
	if err := client.Dataset("ds").Table("t").Inserter().Put(ctx, row); err != nil {
		t.Errorf("Put() after fault used up error = %v", err)
	}
	srv.SetFault("jobs.query", &googleapi.Error{Code: 400, Message: "boom"}, 0)
	if _, err := client.Query("SELECT 1").Read(ctx); apiCode(err) != 400 {
		t.Errorf("Query() with fault error = %v, want 400", err)
	}
	srv.ClearFault("jobs.query")
	if _, err := client.Query("SELECT 1").Read(ctx); err != nil {
		t.Errorf("Query() after ClearFault error = %v", err)
	}
}

func TestConcurrentInserts(t *testing.T) {
	srv, client, _ := newTestServer(t)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "w", Type: "INTEGER"}, {Name: "i", Type: "INTEGER"}}})
	const workers, perWorker = 8, 25
	schema := bigquery.Schema{{Name: "w", Type: bigquery.IntegerFieldType}, {Name: "i", Type: bigquery.IntegerFieldType}}
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ins := client.Dataset("ds").Table("t").Inserter()
			for i := 0; i < perWorker; i++ {
				if err := ins.Put(ctx, &bigquery.ValuesSaver{Schema: schema, InsertID: fmt.Sprintf("%d-%d", w, i), Row: []bigquery.Value{w, i}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Put() error = %v", err)
	}
	md, err := client.Dataset("ds").Table("t").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.NumRows != workers*perWorker {
		t.Errorf("NumRows = %d, want %d", md.NumRows, workers*perWorker)
	}
	rows, err := srv.Query(ctx, "SELECT COUNT(DISTINCT w * 1000 + i) AS n FROM ds.t")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0]["n"]; got != int64(workers*perWorker) {
		t.Errorf("distinct rows = %v, want %d", got, workers*perWorker)
	}
}
