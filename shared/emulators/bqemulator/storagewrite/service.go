package storagewrite

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	bigqueryv2 "google.golang.org/api/bigquery/v2"
	"google.golang.org/grpc"
)

// ErrNotFound is what a Backend wraps when a table does not exist.
var ErrNotFound = errors.New("not found")

// Backend is the table store the Storage Write service appends to.
type Backend interface {
	// TableSchema returns the table's schema, or an error wrapping ErrNotFound.
	TableSchema(ctx context.Context, project, dataset, table string) (*bigqueryv2.TableSchema, error)
	// AppendRows validates every row against the table schema and appends them all atomically;
	// if any row is invalid nothing is appended and the per-row errors are returned (err == nil).
	AppendRows(ctx context.Context, project, dataset, table string, rows []map[string]any) ([]RowError, error)
}

// RowError is one rejected row of an append: its index in the request and why.
type RowError struct {
	Index   int
	Message string
}

// DefaultMaxRequestBytes is the largest AppendRowsRequest accepted, the limit managedwriter documents.
const DefaultMaxRequestBytes = 10 << 20

// Service implements google.cloud.bigquery.storage.v1.BigQueryWrite over a Backend.
type Service struct {
	storagepb.UnimplementedBigQueryWriteServer

	backend         Backend
	now             func() time.Time
	log             *slog.Logger
	faults          FaultChecker
	location        string
	maxRequestBytes int
	latency         time.Duration

	// mu guards streams and nextID; each stream has its own lock for its rows.
	mu      sync.Mutex
	streams map[string]*writeStream
	nextID  int64
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock used for stream create and commit times.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// WithLatency delays every append response by d, pipelined, to model the network round trip to
// the real service (benchmarks compare designs under the same latency).
func WithLatency(d time.Duration) Option { return func(s *Service) { s.latency = d } }

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.log = l
		}
	}
}

// WithFaults sets the per-method fault injector consulted on every call.
func WithFaults(f FaultChecker) Option {
	return func(s *Service) { s.faults = f }
}

// WithLocation sets the location reported on write streams ("US" by default); managedwriter pools connections by it.
func WithLocation(loc string) Option {
	return func(s *Service) { s.location = loc }
}

// WithMaxRequestBytes sets the largest AppendRowsRequest accepted (DefaultMaxRequestBytes by default).
func WithMaxRequestBytes(n int) Option {
	return func(s *Service) {
		if n > 0 {
			s.maxRequestBytes = n
		}
	}
}

// NewService returns a BigQueryWrite service that appends to b.
func NewService(b Backend, opts ...Option) *Service {
	s := &Service{
		backend:         b,
		now:             time.Now,
		log:             slog.Default(),
		location:        "US",
		maxRequestBytes: DefaultMaxRequestBytes,
		streams:         make(map[string]*writeStream),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register registers the service on g.
func (s *Service) Register(g *grpc.Server) {
	storagepb.RegisterBigQueryWriteServer(g, s)
}

// ServerOptions returns the grpc.Server options the service needs: gRPC's default 4 MB receive
// limit would reject requests the real service accepts, before the service can answer
// INVALID_ARGUMENT itself.
func (s *Service) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(s.maxRequestBytes + 1<<20)}
}

// checkFault returns the injected error for method, if any.
func (s *Service) checkFault(method string) error {
	if s.faults == nil {
		return nil
	}
	return s.faults.Check(method)
}
