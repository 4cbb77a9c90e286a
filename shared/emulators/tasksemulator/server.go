package tasksemulator

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipelinekit/pipelinekit/shared/emulators/internal/portmux"
)

// EnvHost is the environment variable through which clients find a running
// emulator (host:port); production code passes ClientOptions(os.Getenv(EnvHost))
// to cloudtasks.NewClient when it is set.
const EnvHost = "CLOUD_TASKS_EMULATOR_HOST"

// DefaultTombstoneTTL is how long a deleted or executed task's name stays
// reserved by default (production documents "up to 24 hours"; about an hour is typical).
const DefaultTombstoneTTL = time.Hour

// Server is a local Cloud Tasks (google.cloud.tasks.v2) server: gRPC and the
// JWKS endpoint on one loopback port, with a dispatcher per queue.
type Server struct {
	cloudtaskspb.UnimplementedCloudTasksServer

	cfg        config
	logger     *slog.Logger
	clock      Clock
	httpClient *http.Client
	transport  *http.Transport // non-nil when the server owns the HTTP client
	keys       *keySet

	// mu guards every field below it and all queue and task state.
	mu         sync.Mutex
	queues     map[string]*queue
	tombstones map[string]time.Time // task name -> when the name is released
	// tombOrder lists tombstones in the order they were made, which is the order they expire
	// (one TTL, a clock that only moves forward): a sweep pops the expired ones from its head
	// instead of scanning every tombstone, which under the lock cost O(tombstones) per sweep
	// and O(n^2) over a job of n tasks. tombHead is the first not yet popped.
	tombOrder  []tombstone
	tombHead   int
	tombSweep  int // creates since the last tombstone sweep
	tombVisits int // tombstones sweeps looked at, for tests
	records    []DispatchRecord
	recordsN   int // attempts completed since start, including records dropped by the cap
	faults     map[string]*fault
	changed    chan struct{} // closed and replaced on every state change
	closed     bool
	seq        uint64

	ctx    context.Context // cancelled by Close: stops dispatchers and in-flight attempts
	cancel context.CancelFunc
	work   sync.WaitGroup // dispatchers and attempts

	listener   net.Listener
	grpcServer *grpc.Server
	httpServer *http.Server
	serving    sync.WaitGroup
	closeOnce  sync.Once
}

type config struct {
	addr         string
	clock        Clock
	logger       *slog.Logger
	tombstoneTTL time.Duration
	httpClient   *http.Client
	signingKey   *rsa.PrivateKey
	maxRecords   int
}

// Option configures a Server.
type Option func(*config)

// WithAddr makes the server listen on addr (host:port) instead of a free loopback port.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithClock sets the clock that drives schedule times, backoff, rate limits,
// dispatch deadlines, tombstones and token lifetimes (default: the wall clock).
func WithClock(clock Clock) Option { return func(c *config) { c.clock = clock } }

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTombstoneTTL sets how long a deleted or executed task's name cannot be
// reused (default DefaultTombstoneTTL; production varies from about an hour to 9 days).
func WithTombstoneTTL(d time.Duration) Option { return func(c *config) { c.tombstoneTTL = d } }

// WithHTTPClient sets the client used to dispatch tasks to their HTTP targets.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithOIDCSigner sets the RSA key that signs OIDC tokens (default: a 2048-bit
// key generated on first use).
func WithOIDCSigner(key *rsa.PrivateKey) Option { return func(c *config) { c.signingKey = key } }

// WithMaxDispatchRecords caps how many DispatchRecords are kept (oldest dropped
// first; default 100,000) so a long-running emulator does not grow without bound.
func WithMaxDispatchRecords(n int) Option { return func(c *config) { c.maxRecords = n } }

// NewServer starts a server and returns once it accepts connections.
func NewServer(opts ...Option) (*Server, error) {
	cfg := config{
		addr:         "127.0.0.1:0",
		tombstoneTTL: DefaultTombstoneTTL,
		maxRecords:   100_000,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cfg:        cfg,
		logger:     cfg.logger,
		clock:      cfg.clock,
		httpClient: cfg.httpClient,
		keys:       newKeySet(cfg.signingKey),
		queues:     map[string]*queue{},
		tombstones: map[string]time.Time{},
		faults:     map[string]*fault{},
		changed:    make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.httpClient == nil {
		// The default transport keeps two idle connections per host, which
		// would open a new connection for most dispatches at 500/s.
		s.transport = http.DefaultTransport.(*http.Transport).Clone()
		s.transport.MaxIdleConnsPerHost = 1000
		s.transport.MaxIdleConns = 1000
		s.httpClient = &http.Client{Transport: s.transport}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	s.listener = lis
	s.grpcServer = grpc.NewServer(grpc.UnaryInterceptor(s.faultInterceptor))
	cloudtaskspb.RegisterCloudTasksServer(s.grpcServer, s)
	s.httpServer = &http.Server{Handler: s.httpRoutes(), ReadHeaderTimeout: 10 * time.Second}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		portmux.Serve(lis, s.grpcServer, s.httpServer, s.logger)
	}()
	s.logger.Info("cloud tasks emulator listening", "addr", lis.Addr().String())
	return s, nil
}

// Addr returns the host:port the server listens on (gRPC and HTTP/1.1).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// JWKSURL returns the URL serving the public keys that verify OIDC tokens.
func (s *Server) JWKSURL() string { return "http://" + s.Addr() + jwksPath }

// Close stops dispatching, cancels in-flight dispatches and waits for them to
// end, then stops serving. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.grpcServer.Stop()
		s.work.Wait()
		s.listener.Close()
		s.httpServer.Close()
		s.serving.Wait()
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
	})
	return nil
}

// ClientOptions returns the options that point the official Cloud Tasks client
// (cloudtasks.NewClient) at an emulator listening on host (host:port):
// plaintext gRPC, no credentials.
func ClientOptions(host string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// notifyLocked wakes everything waiting on a state change. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated with s.mu held) is true or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the emulator: %w", ctx.Err())
		}
	}
}
