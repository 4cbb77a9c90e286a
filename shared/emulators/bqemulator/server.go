package bqemulator

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"google.golang.org/grpc"

	"github.com/pipelinekit/pipelinekit/shared/emulators/internal/portmux"
)

// Server is a local BigQuery server speaking the REST API (and, through
// registered services, gRPC) on one loopback port, backed by DuckDB.
type Server struct {
	cfg    config
	logger *slog.Logger

	connector *duckdb.Connector
	db        *sql.DB

	// writeMu serializes DuckDB writes (DDL, appends) so that schema changes
	// never race appends and numRows stays exact.
	writeMu sync.Mutex

	cat    *catalog
	jobs   *jobStore
	dedup  *dedupCache
	faults *Faults

	listener   net.Listener
	httpServer *http.Server
	grpcServer *grpc.Server
	wg         sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error
}

type config struct {
	addr        string
	project     string
	database    string
	clock       func() time.Time
	logger      *slog.Logger
	dedupWindow time.Duration
	latency     time.Duration
	grpcHooks   []func(*grpc.Server)
}

// Option configures a Server.
type Option func(*config)

// WithLatency delays every REST answer and every Storage Write append response by d, to model
// the network round trip to the real service. Appends stay pipelined: a delayed response does
// not hold up the requests behind it.
func WithLatency(d time.Duration) Option { return func(c *config) { c.latency = d } }

// WithAddr makes the server listen on addr (host:port) instead of a free loopback port.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithProject sets the default project used for unqualified table names and helpers.
func WithProject(project string) Option { return func(c *config) { c.project = project } }

// WithDatabase stores data in the DuckDB file at path instead of in memory.
func WithDatabase(path string) Option { return func(c *config) { c.database = path } }

// WithClock sets the clock used for creation/modification times, job times,
// CURRENT_TIMESTAMP() and the insertId dedup window.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDedupWindow sets how long insertAll remembers insertIds (default one minute).
func WithDedupWindow(d time.Duration) Option { return func(c *config) { c.dedupWindow = d } }

// WithGRPCService registers extra gRPC services on the server's gRPC server before it starts serving.
func WithGRPCService(register func(*grpc.Server)) Option {
	return func(c *config) { c.grpcHooks = append(c.grpcHooks, register) }
}

// NewServer starts a server and returns once it accepts connections.
func NewServer(opts ...Option) (*Server, error) {
	cfg := config{
		addr:        "127.0.0.1:0",
		project:     "local-project",
		clock:       time.Now,
		dedupWindow: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	connector, err := duckdb.NewConnector(cfg.database, initConn)
	if err != nil {
		return nil, fmt.Errorf("opening duckdb %q: %w", cfg.database, err)
	}
	db := sql.OpenDB(connector)
	s := &Server{
		cfg:       cfg,
		logger:    logger,
		connector: connector,
		db:        db,
		jobs:      newJobStore(),
		dedup:     newDedupCache(),
		faults:    NewFaults(),
	}
	s.cat = newCatalog(db)
	if err := s.cat.load(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("loading catalog: %w", err)
	}
	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	s.listener = lis
	swOpts, registerSW := s.storageWrite()
	s.grpcServer = grpc.NewServer(swOpts...)
	registerSW(s.grpcServer)
	for _, h := range cfg.grpcHooks {
		h(s.grpcServer)
	}
	handler := s.routes()
	if lat := s.cfg.latency; lat > 0 {
		next := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(lat)
			next.ServeHTTP(w, r)
		})
	}
	s.httpServer = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		portmux.Serve(lis, s.grpcServer, s.httpServer, logger)
	}()
	logger.Info("bigquery emulator listening", "addr", lis.Addr().String(), "project", cfg.project)
	return s, nil
}

// initConn pins every DuckDB connection to UTC: the library bundles ICU, which would otherwise
// take the host's time zone for TIMESTAMPTZ arithmetic, casts and formatting.
func initConn(execer driver.ExecerContext) error {
	if _, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil); err != nil {
		return fmt.Errorf("setting the DuckDB time zone to UTC: %w", err)
	}
	return nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Endpoint returns the REST base URL to pass to option.WithEndpoint.
func (s *Server) Endpoint() string { return "http://" + s.Addr() + "/bigquery/v2/" }

// Project returns the default project.
func (s *Server) Project() string { return s.cfg.project }

// GRPCServer returns the gRPC server sharing the port, for registering services.
func (s *Server) GRPCServer() *grpc.Server { return s.grpcServer }

// Faults returns the fault registry consulted by every REST method (and by the storagewrite service).
func (s *Server) Faults() *Faults { return s.faults }

// Close stops serving and closes the database.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.listener.Close()
		s.grpcServer.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.httpServer.Shutdown(ctx); err != nil {
			s.httpServer.Close()
		}
		s.wg.Wait()
		var errs []error
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing database: %w", err))
		}
		if err := s.connector.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing duckdb connector: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) now() time.Time { return s.cfg.clock().UTC() }
