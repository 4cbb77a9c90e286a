package storagewrite

import (
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Method names a FaultChecker is asked about. Most are RPC names; MethodAppendResponse is
// asked once per AppendRowsRequest, so a fault there fails one append in-band (an
// AppendRowsResponse carrying the error) while the connection stays open.
const (
	MethodAppendRows              = "AppendRows"
	MethodAppendResponse          = "AppendRowsResponse"
	MethodCreateWriteStream       = "CreateWriteStream"
	MethodGetWriteStream          = "GetWriteStream"
	MethodFinalizeWriteStream     = "FinalizeWriteStream"
	MethodBatchCommitWriteStreams = "BatchCommitWriteStreams"
	MethodFlushRows               = "FlushRows"
)

// FaultChecker decides whether a call to method fails; a non-nil error is returned to the
// client as is, so it should be a gRPC status error (status.Error(codes.Unavailable, ...)).
type FaultChecker interface {
	Check(method string) error
}

// Faults is a FaultChecker holding a queue of errors per method, each returned once.
type Faults struct {
	mu     sync.Mutex
	queued map[string][]error
}

// NewFaults returns an empty fault queue.
func NewFaults() *Faults {
	return &Faults{queued: make(map[string][]error)}
}

// Inject makes the next len(errs) calls to method fail with errs, in order.
func (f *Faults) Inject(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[method] = append(f.queued[method], errs...)
}

// InjectUnavailable makes the next n calls to method fail with codes.Unavailable, the
// transient error clients retry.
func (f *Faults) InjectUnavailable(method string, n int) {
	for range n {
		f.Inject(method, status.Errorf(codes.Unavailable, "injected fault on %s", method))
	}
}

// Check pops the next queued error for method.
func (f *Faults) Check(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queued[method]
	if len(q) == 0 {
		return nil
	}
	f.queued[method] = q[1:]
	return q[0]
}
