package storagewrite

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bigqueryv2 "google.golang.org/api/bigquery/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestDefaultStreamRoundTrip(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	at := time.Date(2024, 1, 2, 3, 4, 5, 678901000, time.UTC)

	tests := []struct {
		name string
		in   map[string]any // wire values
		want map[string]any // canonical values the backend receives
	}{
		{
			name: "every type",
			in: map[string]any{
				"name": "a", "count": int64(-42), "score": 1.25, "active": true, "payload": []byte{0, 1, 255},
				"amount": decimalBytes{"-123.456", numericScale}, "big": decimalBytes{"12345678901234567890.00000000000000000001", bigNumericScale},
				"at": at, "day": civil.Date{Year: 2024, Month: 2, Day: 29},
				"clock": civil.Time{Hour: 23, Minute: 59, Second: 58, Nanosecond: 123456000},
				"local": civil.DateTime{Date: civil.Date{Year: 1999, Month: 12, Day: 31}, Time: civil.Time{Hour: 1, Minute: 2, Second: 3, Nanosecond: 4000}},
				"meta":  `{"k":[1,2]}`, "tags": []any{"x", "y"},
				"attrs": map[string]any{"key": "k1", "values": []any{int64(1), int64(2), int64(3)}},
				"items": []any{map[string]any{"sku": "s1", "qty": int64(2)}, map[string]any{"sku": "s2"}},
			},
			want: map[string]any{
				"name": "a", "count": int64(-42), "score": 1.25, "active": true, "payload": []byte{0, 1, 255},
				"amount": "-123.456", "big": "12345678901234567890.00000000000000000001",
				"at": at, "day": civil.Date{Year: 2024, Month: 2, Day: 29},
				"clock": civil.Time{Hour: 23, Minute: 59, Second: 58, Nanosecond: 123456000},
				"local": civil.DateTime{Date: civil.Date{Year: 1999, Month: 12, Day: 31}, Time: civil.Time{Hour: 1, Minute: 2, Second: 3, Nanosecond: 4000}},
				"meta":  `{"k":[1,2]}`, "tags": []any{"x", "y"},
				"attrs": map[string]any{"key": "k1", "values": []any{int64(1), int64(2), int64(3)}},
				"items": []any{map[string]any{"sku": "s1", "qty": int64(2)}, map[string]any{"sku": "s2"}},
			},
		},
		{
			name: "only required",
			in:   map[string]any{"name": "b"},
			want: map[string]any{"name": "b"},
		},
		{
			name: "zero values are not null",
			in:   map[string]any{"name": "", "count": int64(0), "active": false, "amount": decimalBytes{"0", numericScale}, "at": time.Unix(0, 0)},
			want: map[string]any{"name": "", "count": int64(0), "active": false, "amount": "0", "at": time.Unix(0, 0).UTC()},
		},
		{
			name: "numeric extremes",
			in: map[string]any{"name": "c",
				"amount": decimalBytes{"99999999999999999999999999999.999999999", numericScale},
				"big":    decimalBytes{"-0.00000000000000000000000000000000000001", bigNumericScale}},
			want: map[string]any{"name": "c",
				"amount": "99999999999999999999999999999.999999999",
				"big":    "-0.00000000000000000000000000000000000001"},
		},
	}
	ms := e.writer(t, table, managedwriter.DefaultStream, dp)
	var want []map[string]any
	for _, tc := range tests {
		res, err := ms.AppendRows(context.Background(), [][]byte{enc.row(tc.in)})
		if err != nil {
			t.Fatalf("AppendRows(%s): %v", tc.name, err)
		}
		off, err := res.GetResult(context.Background())
		if err != nil {
			t.Errorf("AppendRows(%s) result = %v, want success", tc.name, err)
		}
		if off != managedwriter.NoStreamOffset {
			t.Errorf("AppendRows(%s) offset = %d, want none on the default stream", tc.name, off)
		}
		want = append(want, tc.want)
	}
	if diff := cmp.Diff(want, e.backend.rows(testProject, testDataset, "events")); diff != "" {
		t.Errorf("rows in table (-want +got):\n%s", diff)
	}
}

func TestDefaultStreamRowErrors(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ms := e.writer(t, table, managedwriter.DefaultStream, dp)

	rows := [][]byte{
		enc.row(map[string]any{"name": "ok"}),
		enc.row(map[string]any{"count": int64(1)}),                                               // REQUIRED name missing
		enc.row(map[string]any{"name": "ok2"}),                                                   //
		enc.row(map[string]any{"name": "x", "attrs": map[string]any{"values": []any{int64(1)}}}), // nested REQUIRED missing
		enc.row(map[string]any{"name": "y", "day": civil.Date{Year: 10000, Month: 1, Day: 1}}),   // DATE out of range
	}
	res, err := ms.AppendRows(context.Background(), rows)
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	resp, err := res.FullResponse(context.Background())
	if got := status.Code(err); got != codes.InvalidArgument {
		t.Errorf("AppendRows error code = %v (%v), want InvalidArgument", got, err)
	}
	var gotIdx []int64
	for _, re := range resp.GetRowErrors() {
		gotIdx = append(gotIdx, re.GetIndex())
		if re.GetCode() != storagepb.RowError_FIELDS_ERROR || re.GetMessage() == "" {
			t.Errorf("row error %d = %v, want FIELDS_ERROR with a message", re.GetIndex(), re)
		}
	}
	if diff := cmp.Diff([]int64{1, 3, 4}, gotIdx); diff != "" {
		t.Errorf("row error indexes (-want +got):\n%s", diff)
	}
	if n := e.backend.count(testProject, testDataset, "events"); n != 0 {
		t.Errorf("rows in table after a rejected append = %d, want 0", n)
	}

	// The connection stays usable after row errors.
	res, err = ms.AppendRows(context.Background(), rows[:1])
	if err != nil {
		t.Fatalf("AppendRows after row errors: %v", err)
	}
	if _, err := res.GetResult(context.Background()); err != nil {
		t.Errorf("AppendRows after row errors = %v, want success", err)
	}
	if n := e.backend.count(testProject, testDataset, "events"); n != 1 {
		t.Errorf("rows in table = %d, want 1", n)
	}
}

func TestBackendRowErrors(t *testing.T) {
	// A writer schema for a table whose REQUIRED column the decoder cannot see as required:
	// the backend finds the missing value.
	e := newEnv(t)
	e.backend.create(testProject, testDataset, "narrow", &bigqueryv2.TableSchema{Fields: []*bigqueryv2.TableFieldSchema{
		{Name: "id", Type: "STRING"},
	}})
	table := managedwriter.TableParentFromParts(testProject, testDataset, "narrow")
	md, dp := e.descriptor(t, table)
	ms := e.writer(t, table, managedwriter.DefaultStream, dp)
	enc := encoder{t: t, md: md}
	// The first append compiles the connection's decoder against the nullable column.
	res, err := ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"id": "first"})})
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	if _, err := res.GetResult(context.Background()); err != nil {
		t.Fatalf("first AppendRows = %v, want success", err)
	}
	// Tighten the table after the writer compiled its decoder against the old schema.
	e.backend.create(testProject, testDataset, "narrow", &bigqueryv2.TableSchema{Fields: []*bigqueryv2.TableFieldSchema{
		{Name: "id", Type: "STRING", Mode: "REQUIRED"},
	}})
	res, err = ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"id": "a"}), enc.row(map[string]any{})})
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	resp, err := res.FullResponse(context.Background())
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("AppendRows error = %v, want InvalidArgument", err)
	}
	want := []*storagepb.RowError{{Index: 1, Code: storagepb.RowError_FIELDS_ERROR, Message: "missing required column id"}}
	if diff := cmp.Diff(want, resp.GetRowErrors(), cmpopts.IgnoreUnexported(storagepb.RowError{})); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
	if n := e.backend.count(testProject, testDataset, "narrow"); n != 0 {
		t.Errorf("rows in table = %d, want 0 (the table was recreated)", n)
	}
}

func TestMissingTable(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)

	t.Run("NewManagedStream", func(t *testing.T) {
		_, err := e.client.NewManagedStream(context.Background(),
			managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(testProject, testDataset, "nope")),
			managedwriter.WithType(managedwriter.DefaultStream), managedwriter.WithSchemaDescriptor(dp))
		if status.Code(err) != codes.NotFound {
			t.Errorf("NewManagedStream(missing table) = %v, want NotFound", err)
		}
	})
	t.Run("dropped after open", func(t *testing.T) {
		ms := e.writer(t, table, managedwriter.DefaultStream, dp)
		e.backend.drop(testProject, testDataset, "events")
		res, err := ms.AppendRows(context.Background(), [][]byte{encoder{t: t, md: md}.row(map[string]any{"name": "a"})})
		if err != nil {
			t.Fatalf("AppendRows: %v", err)
		}
		if _, err := res.GetResult(context.Background()); status.Code(err) != codes.NotFound {
			t.Errorf("AppendRows to a dropped table = %v, want NotFound", err)
		}
	})
}

func TestWriterSchemaErrors(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	_, base := e.descriptor(t, table)

	extra := proto.Clone(base).(*descriptorpb.DescriptorProto)
	extra.Field = append(extra.Field, &descriptorpb.FieldDescriptorProto{
		Name: proto.String("nope"), Number: proto.Int32(99),
		Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	})
	wrongType := proto.Clone(base).(*descriptorpb.DescriptorProto)
	for _, f := range wrongType.Field {
		if f.GetName() == "count" {
			f.Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
		}
	}
	tests := []struct {
		name string
		dp   *descriptorpb.DescriptorProto
		want string
	}{
		{"extra field", extra, "Input schema has more fields than BigQuery schema, extra fields: 'nope'"},
		{"wrong type", wrongType, "The proto field mismatched with BigQuery field at root.count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := e.writer(t, table, managedwriter.DefaultStream, tc.dp)
			res, err := ms.AppendRows(context.Background(), [][]byte{{}})
			if err != nil {
				t.Fatalf("AppendRows: %v", err)
			}
			_, err = res.GetResult(context.Background())
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.want) {
				t.Errorf("AppendRows with %s = %v, want InvalidArgument containing %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestInjectedFaults(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		retries bool
		wantErr codes.Code // of the first append
	}{
		{"response fault surfaces", MethodAppendResponse, false, codes.Unavailable},
		{"response fault retried", MethodAppendResponse, true, codes.OK},
		{"connection fault surfaces", MethodAppendRows, false, codes.Unavailable},
		{"connection fault retried", MethodAppendRows, true, codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			table := e.table("events")
			md, dp := e.descriptor(t, table)
			enc := encoder{t: t, md: md}
			ms := e.writer(t, table, managedwriter.DefaultStream, dp, managedwriter.EnableWriteRetries(tc.retries))
			e.faults.InjectUnavailable(tc.method, 1)

			res, err := ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"name": "first"})})
			if err != nil {
				t.Fatalf("AppendRows: %v", err)
			}
			if _, err := res.GetResult(context.Background()); status.Code(err) != tc.wantErr {
				t.Errorf("first AppendRows = %v, want %v", err, tc.wantErr)
			}
			res, err = ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"name": "second"})})
			if err != nil {
				t.Fatalf("AppendRows: %v", err)
			}
			if _, err := res.GetResult(context.Background()); err != nil {
				t.Errorf("second AppendRows = %v, want success", err)
			}
			wantRows := 2
			if tc.wantErr != codes.OK {
				wantRows = 1
			}
			if n := e.backend.count(testProject, testDataset, "events"); n != wantRows {
				t.Errorf("rows in table = %d, want %d", n, wantRows)
			}
		})
	}
}

func TestConcurrentAppends(t *testing.T) {
	const writers, perWriter = 6, 150
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		ms := e.writer(t, table, managedwriter.DefaultStream, dp)
		wg.Go(func() {
			var results []*managedwriter.AppendResult
			for i := range perWriter {
				res, err := ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"name": fmt.Sprintf("w%d-%d", w, i)})})
				if err != nil {
					errs <- err
					return
				}
				results = append(results, res)
			}
			for _, err := range waitResults(t, results) {
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent append failed: %v", err)
	}
	rows := e.backend.rows(testProject, testDataset, "events")
	seen := make(map[string]int)
	for _, r := range rows {
		seen[r["name"].(string)]++
	}
	if len(rows) != writers*perWriter || len(seen) != writers*perWriter {
		t.Errorf("rows in table = %d (%d distinct), want %d distinct", len(rows), len(seen), writers*perWriter)
	}
}

func TestMultiplexedDefaultStreams(t *testing.T) {
	e := newEnv(t, managedwriter.WithMultiplexing())
	tables := []string{e.table("a"), e.table("b")}
	md, dp := e.descriptor(t, tables[0])
	enc := encoder{t: t, md: md}
	var results []*managedwriter.AppendResult
	for _, tbl := range tables {
		ms := e.writer(t, tbl, managedwriter.DefaultStream, dp)
		for i := range 5 {
			res, err := ms.AppendRows(context.Background(), [][]byte{enc.row(map[string]any{"name": fmt.Sprint(i)})})
			if err != nil {
				t.Fatalf("AppendRows(%s): %v", tbl, err)
			}
			results = append(results, res)
		}
	}
	for _, err := range waitResults(t, results) {
		if err != nil {
			t.Errorf("multiplexed append = %v, want success", err)
		}
	}
	for _, name := range []string{"a", "b"} {
		if n := e.backend.count(testProject, testDataset, name); n != 5 {
			t.Errorf("rows in %s = %d, want 5", name, n)
		}
	}
}

func TestRequestSizeLimit(t *testing.T) {
	e := newEnvWith(t, []Option{WithMaxRequestBytes(4096)})
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ms := e.writer(t, table, managedwriter.DefaultStream, dp)
	ctx := context.Background()

	big, err := ms.AppendRows(ctx, [][]byte{enc.row(map[string]any{"name": strings.Repeat("x", 5000)})})
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	if _, err := big.GetResult(ctx); status.Code(err) != codes.InvalidArgument {
		t.Errorf("AppendRows(5000-byte row, limit 4096) = %v, want InvalidArgument", err)
	}
	small, err := ms.AppendRows(ctx, [][]byte{enc.row(map[string]any{"name": "small"})})
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	if _, err := small.GetResult(ctx); err != nil {
		t.Errorf("AppendRows(small) after an oversized request = %v, want success", err)
	}
	if n := e.backend.count(testProject, testDataset, "events"); n != 1 {
		t.Errorf("rows in table = %d, want 1", n)
	}
}
