package storagewrite

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"cloud.google.com/go/civil"
	bigqueryv2 "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const (
	testProject = "proj"
	testDataset = "ds"
)

// testSchema covers the types the pipeline writes: nested and repeated records, TIMESTAMP,
// DATE, TIME, DATETIME, BYTES, NUMERIC, BIGNUMERIC, BOOL, FLOAT64, JSON.
func testSchema() *bigqueryv2.TableSchema {
	return &bigqueryv2.TableSchema{Fields: []*bigqueryv2.TableFieldSchema{
		{Name: "name", Type: "STRING", Mode: "REQUIRED"},
		{Name: "count", Type: "INTEGER"},
		{Name: "score", Type: "FLOAT"},
		{Name: "active", Type: "BOOLEAN"},
		{Name: "payload", Type: "BYTES"},
		{Name: "amount", Type: "NUMERIC"},
		{Name: "big", Type: "BIGNUMERIC"},
		{Name: "at", Type: "TIMESTAMP"},
		{Name: "day", Type: "DATE"},
		{Name: "clock", Type: "TIME"},
		{Name: "local", Type: "DATETIME"},
		{Name: "meta", Type: "JSON"},
		{Name: "tags", Type: "STRING", Mode: "REPEATED"},
		{Name: "attrs", Type: "RECORD", Fields: []*bigqueryv2.TableFieldSchema{
			{Name: "key", Type: "STRING", Mode: "REQUIRED"},
			{Name: "values", Type: "INT64", Mode: "REPEATED"},
		}},
		{Name: "items", Type: "RECORD", Mode: "REPEATED", Fields: []*bigqueryv2.TableFieldSchema{
			{Name: "sku", Type: "STRING"},
			{Name: "qty", Type: "INTEGER"},
		}},
	}}
}

// env is one loopback server with a service over a memBackend, and a managedwriter client.
type env struct {
	backend *memBackend
	faults  *Faults
	client  *managedwriter.Client
	addr    string
}

// clientOptions are the options managedwriter needs to talk to the local server.
func clientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// newEnv starts a server and client, both stopped when the test ends.
func newEnv(t testing.TB, extra ...option.ClientOption) *env {
	t.Helper()
	return newEnvWith(t, nil, extra...)
}

// newEnvWith is newEnv with extra service options.
func newEnvWith(t testing.TB, svcOpts []Option, extra ...option.ClientOption) *env {
	t.Helper()
	b := newMemBackend()
	f := NewFaults()
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	svcOpts = append([]Option{WithFaults(f), WithClock(func() time.Time { return now }),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, svcOpts...)
	svc := NewService(b, svcOpts...)
	g := grpc.NewServer(svc.ServerOptions()...)
	svc.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)

	ctx := context.Background()
	c, err := managedwriter.NewClient(ctx, testProject, append(clientOptions(lis.Addr().String()), extra...)...)
	if err != nil {
		t.Fatalf("managedwriter.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{backend: b, faults: f, client: c, addr: lis.Addr().String()}
}

// table creates a table with testSchema and returns its resource name.
func (e *env) table(name string) string {
	e.backend.create(testProject, testDataset, name, testSchema())
	return managedwriter.TableParentFromParts(testProject, testDataset, name)
}

// descriptor builds the writer schema the way a production writer does: from the table
// schema GetWriteStream returns, through adapt's proto2 conversion and normalization.
func (e *env) descriptor(t testing.TB, table string) (protoreflect.MessageDescriptor, *descriptorpb.DescriptorProto) {
	t.Helper()
	ws, err := e.client.GetWriteStream(context.Background(), &storagepb.GetWriteStreamRequest{
		Name: table + "/streams/_default", View: storagepb.WriteStreamView_FULL,
	})
	if err != nil {
		t.Fatalf("GetWriteStream(%s): %v", table, err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ws.GetTableSchema(), "root")
	if err != nil {
		t.Fatalf("StorageSchemaToProto2Descriptor: %v", err)
	}
	md := d.(protoreflect.MessageDescriptor)
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		t.Fatalf("NormalizeDescriptor: %v", err)
	}
	return md, dp
}

// writer opens a managed stream of type typ on table.
func (e *env) writer(t testing.TB, table string, typ managedwriter.StreamType, dp *descriptorpb.DescriptorProto, opts ...managedwriter.WriterOption) *managedwriter.ManagedStream {
	t.Helper()
	opts = append([]managedwriter.WriterOption{
		managedwriter.WithDestinationTable(table),
		managedwriter.WithType(typ),
		managedwriter.WithSchemaDescriptor(dp),
	}, opts...)
	ms, err := e.client.NewManagedStream(context.Background(), opts...)
	if err != nil {
		t.Fatalf("NewManagedStream(%s, %s): %v", table, typ, err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

// encoder fills dynamic messages of the writer schema from plain values, encoding them the way
// the Storage Write API documents (µs timestamps, epoch days, packed civil times, scaled
// little-endian decimals).
type encoder struct {
	t  testing.TB
	md protoreflect.MessageDescriptor
}

// row serializes one row; values are given by field name, in wire form already except for the
// helpers' types below.
func (e encoder) row(vals map[string]any) []byte {
	e.t.Helper()
	m := dynamicpb.NewMessage(e.md)
	e.fill(m, vals)
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		e.t.Fatalf("marshaling row: %v", err)
	}
	return b
}

func (e encoder) fill(m *dynamicpb.Message, vals map[string]any) {
	e.t.Helper()
	for k, v := range vals {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			e.t.Fatalf("no field %q in writer schema", k)
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for _, x := range v.([]any) {
				l.Append(e.value(m, fd, x))
			}
			continue
		}
		m.Set(fd, e.value(m, fd, v))
	}
}

func (e encoder) value(m *dynamicpb.Message, fd protoreflect.FieldDescriptor, v any) protoreflect.Value {
	switch x := v.(type) {
	case map[string]any:
		sub := dynamicpb.NewMessage(fd.Message())
		e.fill(sub, x)
		return protoreflect.ValueOfMessage(sub)
	case time.Time:
		return protoreflect.ValueOfInt64(x.UnixMicro())
	case civil.Date:
		return protoreflect.ValueOfInt32(int32(x.In(time.UTC).Unix() / 86400))
	case civil.Time:
		return protoreflect.ValueOfInt64(packTime(x))
	case civil.DateTime:
		return protoreflect.ValueOfInt64(int64(x.Date.Year)<<46 | int64(x.Date.Month)<<42 | int64(x.Date.Day)<<37 | packTime(x.Time))
	case decimalBytes:
		return protoreflect.ValueOfBytes(x.encode())
	case int:
		return protoreflect.ValueOfInt64(int64(x))
	}
	return protoreflect.ValueOf(v)
}

// packTime is CivilTimeEncoder.encodePacked64TimeMicros.
func packTime(t civil.Time) int64 {
	return (int64(t.Hour)<<12|int64(t.Minute)<<6|int64(t.Second))<<20 | int64(t.Nanosecond/1000)
}

// decimalBytes is a decimal to send in BigDecimalByteStringEncoder form at a scale.
type decimalBytes struct {
	text  string
	scale int
}

func (d decimalBytes) encode() []byte {
	r, _ := new(big.Rat).SetString(d.text)
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)), nil)))
	v := r.Num() // exact by construction in tests
	// two's complement, big endian, with room for the sign bit, then reversed.
	n := v.BitLen()/8 + 1
	be := make([]byte, n)
	if v.Sign() >= 0 {
		v.FillBytes(be)
	} else {
		new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*n)), v).FillBytes(be)
	}
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

// waitResults waits for every append result and returns their errors.
func waitResults(t testing.TB, results []*managedwriter.AppendResult) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make([]error, len(results))
	for i, r := range results {
		_, errs[i] = r.GetResult(ctx)
	}
	return errs
}
