package tasksemulator

import (
	"context"
	"encoding/base64"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Page sizes from the ListQueuesRequest and ListTasksRequest reference:
// unspecified means the maximum.
const (
	maxQueuePageSize = 9800
	maxTaskPageSize  = 1000
)

// updatableQueueFields are the top-level fields UpdateQueue may change.
var updatableQueueFields = map[string]bool{
	"rate_limits": true, "retry_config": true, "stackdriver_logging_config": true,
	"http_target": true, "app_engine_routing_override": true,
}

func queueNotFound(name string) error {
	return status.Errorf(codes.NotFound, "queue %s does not exist", name)
}

// CreateQueue creates a queue with production defaults for unset fields.
func (s *Server) CreateQueue(ctx context.Context, req *cloudtaskspb.CreateQueueRequest) (*cloudtaskspb.Queue, error) {
	if err := checkLocation(req.GetParent()); err != nil {
		return nil, err
	}
	if req.GetQueue() == nil {
		return nil, invalidf("queue is required")
	}
	pb := cloneQueue(req.GetQueue())
	if err := checkQueueName(pb.GetName()); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(pb.GetName(), req.GetParent()+"/queues/") {
		return nil, invalidf("queue name %q is not in parent %q", pb.GetName(), req.GetParent())
	}
	if err := validateQueueConfig(pb); err != nil {
		return nil, err
	}
	// Output-only fields are ignored on input.
	pb.State = cloudtaskspb.Queue_RUNNING
	pb.PurgeTime = nil
	applyQueueDefaults(pb)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[pb.Name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "queue %s already exists", pb.Name)
	}
	s.startQueueLocked(pb)
	return cloneQueue(pb), nil
}

// startQueueLocked registers a queue and starts its dispatcher. Callers hold s.mu.
func (s *Server) startQueueLocked(pb *cloudtaskspb.Queue) *queue {
	q := newQueue(pb, s.clock.Now())
	s.queues[pb.Name] = q
	if !s.closed {
		s.work.Add(1)
		go s.dispatchLoop(q)
	}
	s.notifyLocked()
	return q
}

// GetQueue returns a queue.
func (s *Server) GetQueue(ctx context.Context, req *cloudtaskspb.GetQueueRequest) (*cloudtaskspb.Queue, error) {
	if err := checkQueueName(req.GetName()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[req.GetName()]
	if !ok {
		return nil, queueNotFound(req.GetName())
	}
	return cloneQueue(q.pb), nil
}

// ListQueues lists the queues of a location in lexicographical order. The filter is not supported.
func (s *Server) ListQueues(ctx context.Context, req *cloudtaskspb.ListQueuesRequest) (*cloudtaskspb.ListQueuesResponse, error) {
	if err := checkLocation(req.GetParent()); err != nil {
		return nil, err
	}
	if req.GetFilter() != "" {
		return nil, status.Errorf(codes.Unimplemented, "the emulator does not support ListQueues filters (got %q)", req.GetFilter())
	}
	size, after, err := pageParams(req.GetPageSize(), req.GetPageToken(), maxQueuePageSize)
	if err != nil {
		return nil, err
	}
	prefix := req.GetParent() + "/queues/"
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name := range s.queues {
		if strings.HasPrefix(name, prefix) && name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	resp := &cloudtaskspb.ListQueuesResponse{}
	if len(names) > size {
		names = names[:size]
		resp.NextPageToken = pageToken(names[size-1])
	}
	for _, n := range names {
		resp.Queues = append(resp.Queues, cloneQueue(s.queues[n].pb))
	}
	return resp, nil
}

// pageParams decodes a page request: the page size (0 means max) and the
// name after which the page starts.
func pageParams(size int32, token string, maxSize int) (int, string, error) {
	if size < 0 {
		return 0, "", invalidf("page_size must not be negative, got %d", size)
	}
	n := int(size)
	if n == 0 || n > maxSize {
		n = maxSize
	}
	if token == "" {
		return n, "", nil
	}
	after, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", invalidf("invalid page_token %q", token)
	}
	return n, string(after), nil
}

func pageToken(lastName string) string { return base64.RawURLEncoding.EncodeToString([]byte(lastName)) }

// UpdateQueue updates the fields named by update_mask (all settable fields
// when it is empty), creating the queue if it does not exist.
func (s *Server) UpdateQueue(ctx context.Context, req *cloudtaskspb.UpdateQueueRequest) (*cloudtaskspb.Queue, error) {
	in := req.GetQueue()
	if in == nil {
		return nil, invalidf("queue is required")
	}
	if err := checkQueueName(in.GetName()); err != nil {
		return nil, err
	}
	if err := validateQueueConfig(in); err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		for f := range updatableQueueFields {
			paths = append(paths, f)
		}
	}
	for _, p := range paths {
		if !updatableQueueFields[strings.SplitN(p, ".", 2)[0]] {
			return nil, invalidf("update_mask path %q cannot be updated", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[in.GetName()]
	var pb *cloudtaskspb.Queue
	if ok {
		pb = cloneQueue(q.pb)
	} else {
		pb = &cloudtaskspb.Queue{Name: in.GetName()}
	}
	for _, p := range paths {
		if err := copyPath(pb.ProtoReflect(), in.ProtoReflect(), strings.Split(p, ".")); err != nil {
			return nil, err
		}
	}
	if err := validateQueueConfig(pb); err != nil {
		return nil, err
	}
	applyQueueDefaults(pb)
	if !ok {
		s.startQueueLocked(pb)
		return cloneQueue(pb), nil
	}
	q.pb = pb
	q.reconfigure(s.clock.Now())
	q.nudge()
	s.notifyLocked()
	return cloneQueue(pb), nil
}

// copyPath copies the field at path from src to dst, clearing it in dst when unset in src.
func copyPath(dst, src protoreflect.Message, path []string) error {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if fd == nil {
		return invalidf("unknown field %q in update_mask", path[0])
	}
	if len(path) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return nil
	}
	if fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return invalidf("update_mask path descends into non-message field %q", path[0])
	}
	if !src.Has(fd) {
		if dst.Has(fd) {
			return copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:])
		}
		return nil
	}
	return copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), path[1:])
}

// DeleteQueue deletes a queue and all of its tasks.
func (s *Server) DeleteQueue(ctx context.Context, req *cloudtaskspb.DeleteQueueRequest) (*emptypb.Empty, error) {
	if err := checkQueueName(req.GetName()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[req.GetName()]
	if !ok {
		return nil, queueNotFound(req.GetName())
	}
	s.removeAllTasksLocked(q)
	delete(s.queues, q.name)
	close(q.stop)
	s.notifyLocked()
	return &emptypb.Empty{}, nil
}

// removeAllTasksLocked deletes (and tombstones) every task of q. Callers hold s.mu.
func (s *Server) removeAllTasksLocked(q *queue) {
	now := s.clock.Now()
	for _, t := range q.tasks {
		s.removeTaskLocked(q, t, now)
	}
}

// PurgeQueue deletes every task in the queue.
func (s *Server) PurgeQueue(ctx context.Context, req *cloudtaskspb.PurgeQueueRequest) (*cloudtaskspb.Queue, error) {
	return s.withQueue(req.GetName(), func(q *queue) {
		s.removeAllTasksLocked(q)
		q.pb.PurgeTime = timestamppb.New(s.clock.Now().Truncate(time.Microsecond))
	})
}

// PauseQueue stops dispatching; tasks can still be added.
func (s *Server) PauseQueue(ctx context.Context, req *cloudtaskspb.PauseQueueRequest) (*cloudtaskspb.Queue, error) {
	return s.withQueue(req.GetName(), func(q *queue) { q.pb.State = cloudtaskspb.Queue_PAUSED })
}

// ResumeQueue sets the queue RUNNING again.
func (s *Server) ResumeQueue(ctx context.Context, req *cloudtaskspb.ResumeQueueRequest) (*cloudtaskspb.Queue, error) {
	return s.withQueue(req.GetName(), func(q *queue) { q.pb.State = cloudtaskspb.Queue_RUNNING })
}

// withQueue runs change on a queue under the lock, wakes its dispatcher and returns a copy.
func (s *Server) withQueue(name string, change func(*queue)) (*cloudtaskspb.Queue, error) {
	if err := checkQueueName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return nil, queueNotFound(name)
	}
	change(q)
	q.nudge()
	s.notifyLocked()
	return proto.Clone(q.pb).(*cloudtaskspb.Queue), nil
}
