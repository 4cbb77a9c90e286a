// Package warehouse writes rows to BigQuery through the Storage Write API's default stream
// (managedwriter): one managed stream per table, created on first use and reused by every
// request of the instance, safe for concurrent appends.
//
// An append either succeeds durably, fails for good with per-row reasons (*RowErrors: the row
// can never load, so the caller dead-letters it), or fails transiently (any other error: the
// caller returns it so Pub/Sub redelivers).
//
// Reference: docs/event-contract.md.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// EmulatorHostEnv names the variable that points the BigQuery clients at a local server
// (host:port), the way PUBSUB_EMULATOR_HOST does for Pub/Sub.
const EmulatorHostEnv = "BIGQUERY_EMULATOR_HOST"

// WriteClientOptions returns the options for the Storage Write API client: none in production,
// a plaintext connection without credentials to the local server when BIGQUERY_EMULATOR_HOST is set.
func WriteClientOptions() []option.ClientOption {
	host := os.Getenv(EmulatorHostEnv)
	if host == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// RESTClientOptions returns the options for the BigQuery REST client (cloud.google.com/go/bigquery):
// none in production, the local server's URL when BIGQUERY_EMULATOR_HOST is set.
func RESTClientOptions() []option.ClientOption {
	host := os.Getenv(EmulatorHostEnv)
	if host == "" {
		return nil
	}
	return []option.ClientOption{option.WithEndpoint("http://" + host + "/bigquery/v2/"), option.WithoutAuthentication()}
}

// SchemaSource returns the JSON schema of a table; schemas.Table in production.
type SchemaSource func(table string) ([]byte, error)

// Writer appends rows to the tables of one dataset.
type Writer struct {
	client  *managedwriter.Client
	project string
	dataset string
	schema  SchemaSource
	log     *slog.Logger

	mu      sync.Mutex
	streams map[string]*tableStream
}

type tableStream struct {
	ms    *managedwriter.ManagedStream
	md    protoreflect.MessageDescriptor
	batch *coalescer
}

// New connects a Writer to project's dataset. The client is shared by every table's stream.
func New(ctx context.Context, project, dataset string, schema SchemaSource, log *slog.Logger, opts ...option.ClientOption) (*Writer, error) {
	if log == nil {
		log = slog.Default()
	}
	c, err := managedwriter.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating BigQuery Storage Write client: %w", err)
	}
	return &Writer{client: c, project: project, dataset: dataset, schema: schema, log: log, streams: map[string]*tableStream{}}, nil
}

// Close closes every stream and the client.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, s := range w.streams {
		errs = append(errs, s.ms.Close())
	}
	errs = append(errs, w.client.Close())
	return errors.Join(errs...)
}

// stream returns the table's managed stream, creating it on first use. A failed creation is not
// cached: the next append tries again.
func (w *Writer) stream(ctx context.Context, table string) (*tableStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.streams[table]; ok {
		return s, nil
	}
	js, err := w.schema(table)
	if err != nil {
		return nil, err
	}
	md, dp, err := Descriptor(js)
	if err != nil {
		return nil, fmt.Errorf("building the row descriptor of %s: %w", table, err)
	}
	// The stream outlives the request that opens it: managedwriter ties a stream's connection to
	// the context it is created with.
	ms, err := w.client.NewManagedStream(context.WithoutCancel(ctx),
		managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(w.project, w.dataset, table)),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(dp),
		managedwriter.EnableWriteRetries(true),
	)
	if err != nil {
		return nil, fmt.Errorf("opening the default stream of %s.%s: %w", w.dataset, table, err)
	}
	s := &tableStream{ms: ms, md: md}
	s.batch = newCoalescer(func(ctx context.Context, data [][]byte) error { return appendEncoded(ctx, ms, table, data) })
	w.streams[table] = s
	return s, nil
}

// Descriptor builds the proto message descriptor of a table's rows from its JSON schema, and the
// normalized form the Storage Write API takes.
func Descriptor(schemaJSON []byte) (protoreflect.MessageDescriptor, *descriptorpb.DescriptorProto, error) {
	bq, err := bigquery.SchemaFromJSON(schemaJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing schema: %w", err)
	}
	ts, err := adapt.BQSchemaToStorageTableSchema(bq)
	if err != nil {
		return nil, nil, fmt.Errorf("converting schema: %w", err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ts, "row")
	if err != nil {
		return nil, nil, fmt.Errorf("converting schema to proto: %w", err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, nil, fmt.Errorf("converting schema to proto: got %T, want a message descriptor", d)
	}
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return nil, nil, fmt.Errorf("normalizing descriptor: %w", err)
	}
	return md, dp, nil
}

// RowError is why BigQuery refused one row.
type RowError struct {
	Index  int
	Reason string
}

// RowErrors reports rows that can never be appended; nothing of the request was appended.
type RowErrors struct {
	Table  string
	Errors []RowError
}

func (e *RowErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused %d row(s):", e.Table, len(e.Errors))
	for _, re := range e.Errors {
		fmt.Fprintf(&b, " row %d: %s;", re.Index, re.Reason)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Reason returns the reason for row i, or "" when that row was not at fault.
func (e *RowErrors) Reason(i int) string {
	for _, re := range e.Errors {
		if re.Index == i {
			return re.Reason
		}
	}
	return ""
}

// Append writes rows (column values as event.Values returns them) to table and waits until they
// are durable. It returns *RowErrors when rows can never load, or another error when the
// append may succeed if tried again. Concurrent calls for one table are coalesced into shared
// append requests (see coalescer), so a busy instance sends fewer, larger appends.
func (w *Writer) Append(ctx context.Context, table string, rows []map[string]any) error {
	s, err := w.stream(ctx, table)
	if err != nil {
		return err
	}
	data := make([][]byte, 0, len(rows))
	var bad []RowError
	for i, r := range rows {
		b, err := Encode(s.md, r)
		if err != nil {
			bad = append(bad, RowError{Index: i, Reason: err.Error()})
			continue
		}
		data = append(data, b)
	}
	if len(bad) > 0 {
		return &RowErrors{Table: table, Errors: bad}
	}
	return s.batch.do(ctx, data)
}

// appendEncoded sends one append request and waits for its result.
func appendEncoded(ctx context.Context, ms *managedwriter.ManagedStream, table string, data [][]byte) error {
	res, err := ms.AppendRows(ctx, data)
	if err != nil {
		return fmt.Errorf("appending %d row(s) to %s: %w", len(data), table, err)
	}
	resp, err := res.FullResponse(ctx)
	if rerrs := resp.GetRowErrors(); len(rerrs) > 0 {
		out := &RowErrors{Table: table}
		for _, re := range rerrs {
			out.Errors = append(out.Errors, RowError{Index: int(re.GetIndex()), Reason: re.GetMessage()})
		}
		return out
	}
	if err != nil {
		if status.Code(err) == codes.InvalidArgument && resp.GetError() != nil && isRequestTooLarge(resp.GetError().GetMessage()) {
			return &RowErrors{Table: table, Errors: []RowError{{Index: 0, Reason: resp.GetError().GetMessage()}}}
		}
		return fmt.Errorf("appending %d row(s) to %s: %w", len(data), table, err)
	}
	return nil
}

func isRequestTooLarge(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "too large") || strings.Contains(strings.ToLower(msg), "exceeds")
}
