package iamcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/pipelinekit/pipelinekit/shared/emulators/internal/portmux"
)

// Config configures a proxy acting as one identity.
type Config struct {
	// Member is the identity every call through the proxy is made as, such as
	// serviceAccount:loader@my-project.iam.gserviceaccount.com.
	Member string
	// Policy decides what Member may do.
	Policy *Policy
	// Upstreams are the servers calls are forwarded to (host:port), by service: PubSub,
	// Firestore, CloudTasks, BigQuery (its gRPC and REST on one port) and SecretManager. A call
	// to a service with no upstream fails with UNAVAILABLE.
	Upstreams map[string]string
	// Check, when set, is called after the permission check passes, with each request message
	// of a method in the permission table (for example to apply Firestore's limits); its error
	// goes back to the caller as is.
	Check func(ctx context.Context, fullMethod string, req proto.Message) error
	// Log receives one warning per refused call; nil means slog.Default().
	Log *slog.Logger
	// Disabled forwards everything unchecked and records no decision.
	Disabled bool
	// Strict refuses, with PERMISSION_DENIED naming the method, any call not in the permission
	// table, so a new call cannot slip through unchecked. nil means true.
	Strict *bool
}

// Decision is one permission check the proxy made.
type Decision struct {
	// Member is who called.
	Member string
	// Method is the gRPC full method (/google.pubsub.v1.Publisher/Publish) or BigQuery REST
	// method (bigquery.tabledata.insertAll).
	Method string
	// Permission is what was checked; empty for a method not in the table.
	Permission string
	// Resource is the full resource name the permission was checked on.
	Resource string
	// Allowed is the outcome.
	Allowed bool
}

// Proxy forwards gRPC and BigQuery REST calls to the upstreams, refusing what Config.Policy does
// not allow Config.Member, on one loopback port.
type Proxy struct {
	cfg    Config
	strict bool
	log    *slog.Logger

	lis        net.Listener
	grpcServer *grpc.Server
	httpServer *http.Server
	conns      map[string]*grpc.ClientConn
	bigquery   *httputil.ReverseProxy
	jwks       *httputil.ReverseProxy
	served     chan struct{}
	closeOnce  sync.Once
	closeErr   error

	mu        sync.Mutex
	stopOnCtx func() bool // unregisters the close on ctx's end
	decisions []Decision
	jobs      map[string]bool // BigQuery jobs (projects/P/jobs/J) created through this proxy
}

// maxMessage bounds one forwarded gRPC message; above the services' own limits (Storage Write
// takes 10 MB requests; gRPC's default is 4 MB).
const maxMessage = 64 << 20

// Start listens on a free loopback port and serves until Close or until ctx is done.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	if !cfg.Disabled && (cfg.Member == "" || cfg.Policy == nil) {
		return nil, errors.New("starting iamcheck proxy: Member and Policy are required unless Disabled")
	}
	p := &Proxy{
		cfg:    cfg,
		strict: cfg.Strict == nil || *cfg.Strict,
		log:    cfg.Log,
		conns:  map[string]*grpc.ClientConn{},
		jobs:   map[string]bool{},
		served: make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	for name, addr := range cfg.Upstreams {
		switch name {
		case PubSub, Firestore, CloudTasks, BigQuery, SecretManager:
		default:
			p.closeConns()
			return nil, fmt.Errorf("starting iamcheck proxy: unknown upstream %q: want one of %s, %s, %s, %s, %s", name, PubSub, Firestore, CloudTasks, BigQuery, SecretManager)
		}
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
		if err != nil {
			p.closeConns()
			return nil, fmt.Errorf("starting iamcheck proxy: dialling %s upstream %s: %w", name, addr, err)
		}
		p.conns[name] = conn
	}
	if addr, ok := cfg.Upstreams[BigQuery]; ok {
		p.bigquery = p.reverseProxy(addr, p.noteJob)
	}
	if addr, ok := cfg.Upstreams[CloudTasks]; ok {
		p.jwks = p.reverseProxy(addr, nil)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.closeConns()
		return nil, fmt.Errorf("starting iamcheck proxy: listening on loopback: %w", err)
	}
	p.lis = lis
	p.grpcServer = grpc.NewServer(
		grpc.UnknownServiceHandler(p.handleGRPC),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
	)
	p.httpServer = &http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.served)
		portmux.Serve(lis, p.grpcServer, p.httpServer, p.log)
	}()
	// The callback may run before AfterFunc returns (ctx already done), hence the lock.
	stop := context.AfterFunc(ctx, func() { p.Close() })
	p.mu.Lock()
	p.stopOnCtx = stop
	p.mu.Unlock()
	return p, nil
}

func (p *Proxy) reverseProxy(addr string, modify func(*http.Response) error) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: modify,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeRESTError(w, http.StatusBadGateway, "UNAVAILABLE", "backendError", fmt.Sprintf("iamcheck: forwarding %s %s to %s: %v", r.Method, r.URL.Path, addr, err))
		},
	}
}

// Addr returns the host:port to put in PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST,
// CLOUD_TASKS_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Close stops serving, ends the calls in flight and closes the upstream connections.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		stop := p.stopOnCtx
		p.mu.Unlock()
		if stop != nil {
			stop()
		}
		p.lis.Close()
		p.grpcServer.Stop()
		p.httpServer.Close()
		<-p.served
		p.closeErr = p.closeConns()
	})
	return p.closeErr
}

func (p *Proxy) closeConns() error {
	var errs []error
	for name, c := range p.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s upstream connection: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Decisions returns every permission check made so far, in order.
func (p *Proxy) Decisions() []Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Decision(nil), p.decisions...)
}

// decide checks needs in order, records each check, and refuses at the first one missing,
// as IAM does.
func (p *Proxy) decide(method, service string, needs []need) error {
	for _, n := range needs {
		allowed := (n.byCreator && p.createdJob(n.resource)) || p.cfg.Policy.Allowed(p.cfg.Member, n.perm, n.resource)
		p.record(Decision{Member: p.cfg.Member, Method: method, Permission: n.perm, Resource: n.resource, Allowed: allowed})
		if !allowed {
			p.log.Warn("iamcheck refused a call", "member", p.cfg.Member, "method", method, "permission", n.perm, "resource", n.resource)
			return &DeniedError{Member: p.cfg.Member, Method: method, Permission: n.perm, Resource: n.resource, Service: service}
		}
	}
	return nil
}

// refuseUnknown records and refuses a call to a method not in the table.
func (p *Proxy) refuseUnknown(method string) error {
	p.record(Decision{Member: p.cfg.Member, Method: method})
	p.log.Warn("iamcheck refused a call not in its permission table", "member", p.cfg.Member, "method", method)
	return &DeniedError{Member: p.cfg.Member, Method: method}
}

func (p *Proxy) record(d Decision) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decisions = append(p.decisions, d)
}
