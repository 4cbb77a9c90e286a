package bqemulator

import (
	"sync"
)

// Faults is a per-method fault registry: a set fault is returned by Check
// a given number of times or until cleared. The REST handlers and the
// storagewrite service consult the same registry.
type Faults struct {
	mu     sync.Mutex
	faults map[string]*fault
}

type fault struct {
	err       error
	remaining int // < 0 means until cleared
}

// NewFaults returns an empty registry.
func NewFaults() *Faults { return &Faults{faults: map[string]*fault{}} }

// Set makes Check(method) return err the next times calls; times <= 0 means until Clear.
// Method names are REST method ids such as "tabledata.insertAll" or "jobs.query",
// or whatever names the gRPC side checks (for example "AppendRows").
func (f *Faults) Set(method string, err error, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if times <= 0 {
		times = -1
	}
	f.faults[method] = &fault{err: err, remaining: times}
}

// Clear removes the fault for method.
func (f *Faults) Clear(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.faults, method)
}

// Check returns the fault set for method, consuming one use, or nil.
func (f *Faults) Check(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.faults[method]
	if !ok {
		return nil
	}
	if ft.remaining > 0 {
		ft.remaining--
		if ft.remaining == 0 {
			delete(f.faults, method)
		}
	}
	return ft.err
}

// SetFault makes REST (or gRPC) method return err the next times calls (times <= 0: until cleared).
// err is typically a *googleapi.Error (code, message, Errors[0].Reason) or a gRPC status error.
func (s *Server) SetFault(method string, err error, times int) { s.faults.Set(method, err, times) }

// ClearFault removes the fault set for method.
func (s *Server) ClearFault(method string) { s.faults.Clear(method) }
