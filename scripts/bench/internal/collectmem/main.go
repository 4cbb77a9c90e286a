// Command collectmem serves CollectEvents' request path for the collector memory benchmark:
// --path=new is the production Collector; --path=old is the decode path it replaced (the whole
// body read into a buffer, split into a copy of every event, each event parsed and kept), kept
// here as the benchmark's baseline. Both publish to a publisher that holds every request until
// --hold requests have reached it (or --hold-for has passed), so that a burst's requests all
// hold their events at once: the worst moment for memory. There is no dedup (no Firestore).
//
// Reference: docs/performance.md#memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to serve on")
	path := flag.String("path", "new", "new (the Collector) or old (the replaced decode path)")
	hold := flag.Int("hold", 1, "requests the publisher holds until all have arrived")
	holdFor := flag.Duration("hold-for", 5*time.Second, "longest the publisher holds a request")
	maxBody := flag.Int64("max-body-bytes", collectevents.DefaultMaxBodyBytes, "MAX_BODY_BYTES")
	maxEvents := flag.Int("max-events", collectevents.DefaultMaxEvents, "MAX_EVENTS")
	flag.Parse()

	pub := &holdingPublisher{want: *hold, wait: *holdFor}
	pub.reset()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	limits := collectevents.Limits{MaxBodyBytes: *maxBody, MaxEvents: *maxEvents}
	var h http.Handler
	switch *path {
	case "new":
		h = collectevents.NewCollector(pub, nil, nil, logger, limits)
	case "old":
		h = &oldCollector{pub: pub, limits: limits}
	default:
		fmt.Fprintf(os.Stderr, "collectmem: --path must be new or old, not %q\n", *path)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /", h)
	// POST /reset starts a new burst: the publisher waits for --hold requests again.
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) { pub.reset() })
	srv := &http.Server{Addr: *addr, Handler: mux}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "collectmem: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String()) // the benchmark reads the address from the first line
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "collectmem: %v\n", err)
		os.Exit(1)
	}
}

// holdingPublisher accepts every message, after holding each call until want calls have
// arrived or wait has passed.
type holdingPublisher struct {
	want int
	wait time.Duration
	mu   sync.Mutex
	n    int
	all  chan struct{}
}

func (p *holdingPublisher) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.all = 0, make(chan struct{})
}

func (p *holdingPublisher) PublishAll(ctx context.Context, msgs []publish.Message) []error {
	p.mu.Lock()
	p.n++
	all := p.all
	if p.n == p.want {
		close(all)
	}
	p.mu.Unlock()
	select {
	case <-all:
	case <-time.After(p.wait):
	case <-ctx.Done():
	}
	return make([]error, len(msgs))
}
