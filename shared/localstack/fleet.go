package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxRequestBytes is the largest request a 2nd gen function takes: 32 MB of uncompressed HTTP
// request (https://cloud.google.com/functions/quotas, "Max uncompressed HTTP request size").
const maxRequestBytes = 32 << 20

// timeoutMessage is what Cloud Run answers, with 504, a request its service did not answer within
// the service's timeout (https://cloud.google.com/run/docs/configuring/request-timeout).
const timeoutMessage = "The request has been terminated because it has reached the maximum request timeout."

// FunctionSet is every function Terraform deploys in a process of its own, as Cloud Functions
// runs each: alone at "/" (FUNCTION_TARGET), with its own environment, so each can act as its own
// service account. One local address fronts them all and routes /<EntryPoint>/rest to that
// function as /rest, with Cloud Run's request size and each function's timeout.
type FunctionSet struct {
	URL string // http://127.0.0.1:PORT; a function is at URL+"/"+EntryPoint

	bin   string
	env   map[string]string
	perFn func(name string) map[string]string
	logs  io.Writer
	srv   *http.Server

	mu      sync.RWMutex
	procs   map[string]*Functions
	proxy   map[string]*httputil.ReverseProxy
	timeout map[string]time.Duration // Terraform's timeout_seconds, by entry point
	// up is closed while the processes serve; Kill replaces it, and a request that arrives
	// meanwhile waits for the restart, as a request to Cloud Run waits for a new instance.
	up chan struct{}
	// stackRoutes are the stack's own endpoints under StackPath (no function's name starts
	// with "_", so none is shadowed).
	stackRoutes map[string]http.Handler

	answers responseCounts
}

// StackPath prefixes the front door's own endpoints: StackPath+"errors" answers Errors as JSON,
// and the stack adds StackPath+"health".
const StackPath = "/_stack/"

// Errors returns every function's answers since the minute of from (at most HealthWindow ago).
func (fs *FunctionSet) Errors(from time.Time) []FunctionErrors { return fs.answers.since(from) }

// Handle serves h at StackPath+name on the front door.
func (fs *FunctionSet) Handle(name string, h http.Handler) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stackRoutes[StackPath+name] = h
}

// StartFunctionSet starts one process of bin per function of the topology, each with env,
// FUNCTION_TARGET and what perFn (if not nil) adds for it, and serves them all on port (0: a
// free port).
func StartFunctionSet(ctx context.Context, bin string, port int, env map[string]string, perFn func(string) map[string]string, logs io.Writer) (*FunctionSet, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("listening for the functions: %w", err)
	}
	fs, err := StartFunctionSetOn(ctx, bin, ln, env, perFn, logs)
	if err != nil {
		ln.Close()
	}
	return fs, err
}

// StartFunctionSetOn is StartFunctionSet serving on ln, which the caller listened on before it
// started anything else (a port found free and closed again can be taken in between).
func StartFunctionSetOn(ctx context.Context, bin string, ln net.Listener, env map[string]string, perFn func(string) map[string]string, logs io.Writer) (*FunctionSet, error) {
	t, err := Topology()
	if err != nil {
		return nil, err
	}
	fs := &FunctionSet{
		URL: "http://" + ln.Addr().String(), bin: bin, env: env, perFn: perFn, logs: logs,
		procs: map[string]*Functions{}, proxy: map[string]*httputil.ReverseProxy{}, timeout: map[string]time.Duration{},
		up: make(chan struct{}), stackRoutes: map[string]http.Handler{},
	}
	fs.stackRoutes[StackPath+"errors"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, fs.Errors(time.Now().Add(-HealthWindow)))
	})
	for _, f := range t.Functions {
		fs.procs[f.EntryPoint] = nil
		fs.timeout[f.EntryPoint] = secondsDuration(f.TimeoutSeconds)
	}
	fs.srv = &http.Server{Handler: fs, ReadHeaderTimeout: time.Minute}
	go fs.srv.Serve(ln)
	if err := fs.startAll(ctx); err != nil {
		fs.Stop()
		return nil, err
	}
	return fs, nil
}

func (fs *FunctionSet) startAll(ctx context.Context) error {
	type started struct {
		name string
		f    *Functions
		err  error
	}
	ch := make(chan started)
	for name := range fs.procs {
		go func() {
			env := make(map[string]string, len(fs.env)+4)
			for k, v := range fs.env {
				env[k] = v
			}
			if fs.perFn != nil {
				for k, v := range fs.perFn(name) {
					env[k] = v
				}
			}
			// Not K_SERVICE: with it, a function takes itself for deployed and reads its
			// credentials from Secret Manager, which has no local server.
			env["FUNCTION_TARGET"] = name
			f, err := StartFunctions(ctx, fs.bin, 0, env, fs.logs)
			if err != nil {
				err = fmt.Errorf("starting %s: %w", name, err)
			}
			ch <- started{name, f, err}
		}()
	}
	var errs []error
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for range fs.procs {
		s := <-ch
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		u, _ := url.Parse(s.f.URL)
		p := httputil.NewSingleHostReverseProxy(u)
		p.FlushInterval = -1
		p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				http.Error(w, timeoutMessage, http.StatusGatewayTimeout)
				return
			}
			if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("the request is over the %d bytes a function takes", maxRequestBytes), http.StatusRequestEntityTooLarge)
				return
			}
			// The instance died under the request: its caller gets no answer, as from a crash.
			panic(http.ErrAbortHandler)
		}
		fs.procs[s.name], fs.proxy[s.name] = s.f, p
	}
	if len(errs) == 0 {
		close(fs.up)
	}
	return errors.Join(errs...)
}

// ServeHTTP routes /<EntryPoint>/rest to the function's process as /rest, and counts each
// function's answers (Errors).
func (fs *FunctionSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	fs.mu.RLock()
	p, known, up := fs.proxy[name], false, fs.up
	_, known = fs.procs[name]
	own := fs.stackRoutes[r.URL.Path]
	fs.mu.RUnlock()
	if own != nil && r.Method == http.MethodGet {
		own.ServeHTTP(w, r)
		return
	}
	if known {
		rec := &statusRecorder{ResponseWriter: w}
		w = rec
		defer func() {
			// A request the instance died under (ErrAbortHandler) got no answer: 0, an error.
			fs.answers.record(name, rec.status, time.Now())
			if v := recover(); v != nil {
				panic(v)
			}
		}()
	}
	if p == nil && known {
		select {
		case <-up:
		case <-r.Context().Done():
			return
		case <-time.After(time.Minute):
		}
		fs.mu.RLock()
		p = fs.proxy[name]
		fs.mu.RUnlock()
		if p == nil {
			http.Error(w, name+" is not running", http.StatusServiceUnavailable)
			return
		}
	}
	if p == nil {
		if r.URL.Path == "/" {
			w.WriteHeader(http.StatusNoContent) // the readiness probe of the set itself
			return
		}
		http.Error(w, fmt.Sprintf("no function %q here", name), http.StatusNotFound)
		return
	}
	if r.ContentLength > maxRequestBytes {
		http.Error(w, fmt.Sprintf("the request is over the %d bytes a function takes", maxRequestBytes), http.StatusRequestEntityTooLarge)
		return
	}
	if rest == "" && !strings.HasSuffix(r.URL.Path, "/") && name == "ServeRankings" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// The deck's page uses relative URLs: they resolve under the function only with the slash.
		target := "/" + name + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	ctx := r.Context()
	if d := fs.timeout[name]; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	r2 := r.Clone(ctx)
	r2.URL.Path, r2.URL.RawPath = "/"+rest, ""
	// A body without a length (chunked) is cut at the bound; the function then sees a read error.
	r2.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	p.ServeHTTP(w, r2)
}

// Kill ends every process at once, as crashed instances die; the front door stays and answers 503.
func (fs *FunctionSet) Kill() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	select {
	case <-fs.up:
		fs.up = make(chan struct{})
	default:
	}
	for n, f := range fs.procs {
		if f != nil {
			f.Kill()
		}
		fs.procs[n], fs.proxy[n] = nil, nil
	}
}

// Restart kills every process and starts them again with the same environment.
func (fs *FunctionSet) Restart(ctx context.Context) error {
	fs.Kill()
	return fs.startAll(ctx)
}

// Stop ends every process and the front door.
func (fs *FunctionSet) Stop() {
	fs.mu.Lock()
	var wg sync.WaitGroup
	for n, f := range fs.procs {
		if f != nil {
			wg.Add(1)
			go func() { defer wg.Done(); f.Stop() }()
		}
		fs.procs[n], fs.proxy[n] = nil, nil
	}
	fs.mu.Unlock()
	wg.Wait()
	_ = fs.srv.Close()
}
