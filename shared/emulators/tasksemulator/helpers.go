package tasksemulator

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// DispatchRecord is one HTTP attempt as the target saw it and as it ended.
type DispatchRecord struct {
	Queue        string      // full queue name
	Task         string      // full task name
	Method       string      // HTTP method
	URL          string      // URL after the queue's uri_override
	Header       http.Header // headers sent, canonicalised (Authorization included)
	Body         []byte
	DispatchTime time.Time
	ResponseTime time.Time
	StatusCode   int    // 0 when no response was received
	Err          string // transport error or "dispatch deadline exceeded"
	RunTask      bool   // forced by RunTask
}

// appendRecordLocked records a finished attempt. Callers hold s.mu.
func (s *Server) appendRecordLocked(p *attemptPlan, r attemptResult, now time.Time) {
	h := http.Header{}
	for k, v := range p.header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	rec := DispatchRecord{
		Queue: p.q.name, Task: p.t.pb.GetName(), Method: p.method, URL: p.url, Header: h, Body: p.body,
		DispatchTime: p.dispatchTime, ResponseTime: now, StatusCode: r.status, Err: r.errText(), RunTask: p.forced,
	}
	if s.cfg.maxRecords > 0 && len(s.records) >= s.cfg.maxRecords {
		s.records = append(s.records[:0], s.records[len(s.records)/2:]...)
	}
	s.records = append(s.records, rec)
	s.recordsN++
}

// Dispatched returns every finished HTTP attempt kept so far, oldest first.
func (s *Server) Dispatched() []DispatchRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DispatchRecord(nil), s.records...)
}

// WaitDispatched waits until at least n attempts have finished (and their
// outcome is applied to the task) and returns the records kept.
func (s *Server) WaitDispatched(ctx context.Context, n int) ([]DispatchRecord, error) {
	if err := s.waitFor(ctx, func() bool { return s.recordsN >= n }); err != nil {
		return s.Dispatched(), err
	}
	return s.Dispatched(), nil
}

// Tasks returns a queue's tasks in the FULL view, ordered by name; nil when
// the queue does not exist.
func (s *Server) Tasks(queueName string) []*cloudtaskspb.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[queueName]
	if !ok {
		return nil
	}
	out := make([]*cloudtaskspb.Task, 0, len(q.tasks))
	for _, t := range q.tasks {
		out = append(out, viewOf(t.pb, cloudtaskspb.Task_FULL))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// WaitIdle waits until the queue has no task left and no attempt in flight
// (or does not exist).
func (s *Server) WaitIdle(ctx context.Context, queueName string) error {
	return s.waitFor(ctx, func() bool {
		q, ok := s.queues[queueName]
		return !ok || (len(q.tasks) == 0 && q.inflight == 0)
	})
}

// WaitAllIdle waits until every one of the queues has no task left and no attempt in flight at
// the same moment: a task of one queue may create tasks in another (a backfill's chain links),
// so queues found idle one after the other are not idle together.
func (s *Server) WaitAllIdle(ctx context.Context, queueNames ...string) error {
	return s.waitFor(ctx, func() bool {
		for _, name := range queueNames {
			if q, ok := s.queues[name]; ok && (len(q.tasks) > 0 || q.inflight > 0) {
				return false
			}
		}
		return true
	})
}

// InFlight reports how many attempts of the queue are running.
func (s *Server) InFlight(queueName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[queueName]; ok {
		return q.inflight
	}
	return 0
}

// fault is an error a method returns for its next calls.
type fault struct {
	err       error
	remaining int // < 0: until cleared
}

// SetFault makes the gRPC method (short name like "CreateTask" or full
// "/google.cloud.tasks.v2.CloudTasks/CreateTask") fail with err for its next
// times calls (times < 0: until cleared); a nil err or times == 0 clears it.
// Give err a gRPC status (status.Error) for the client to see its code.
func (s *Server) SetFault(method string, err error, times int) {
	method = method[strings.LastIndex(method, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil || times == 0 {
		delete(s.faults, method)
		return
	}
	s.faults[method] = &fault{err: err, remaining: times}
}

// faultInterceptor returns injected faults before the method runs.
func (s *Server) faultInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	s.mu.Lock()
	f, ok := s.faults[method]
	var err error
	if ok {
		err = f.err
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				delete(s.faults, method)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		// A plain error reaches the client as UNKNOWN, as grpc would send it.
		return nil, status.Convert(err).Err()
	}
	return handler(ctx, req)
}
