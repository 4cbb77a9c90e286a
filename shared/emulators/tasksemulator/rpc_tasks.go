package tasksemulator

import (
	"context"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Task limits from the CreateTask, Task and HttpRequest reference.
const (
	maxTaskSize          = 100 * 1024 // "The maximum task size is 100KB."
	maxHeadersSize       = 80 * 1024  // "The size of the headers must be less than 80KB."
	maxURLLength         = 2083
	maxScheduleAhead     = 30 * 24 * time.Hour
	defaultDeadline      = 10 * time.Minute
	minDeadline          = 15 * time.Second
	maxDeadline          = 30 * time.Minute
	tombstoneSweepPeriod = 1024 // creates between sweeps of expired tombstones
)

func taskNotFound(name string) error {
	return status.Errorf(codes.NotFound, "task %s does not exist", name)
}

// CreateTask adds an HTTP task to a queue. A caller-given name that exists or
// was deleted or executed within the tombstone TTL fails with ALREADY_EXISTS.
func (s *Server) CreateTask(ctx context.Context, req *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	parent := req.GetParent()
	if err := checkQueueName(parent); err != nil {
		return nil, err
	}
	in := req.GetTask()
	if in == nil {
		return nil, invalidf("task is required")
	}
	if in.GetAppEngineHttpRequest() != nil {
		return nil, status.Error(codes.Unimplemented, "the emulator supports HTTP targets only (http_request), not app_engine_http_request")
	}
	if in.GetHttpRequest() == nil {
		return nil, invalidf("task.http_request is required")
	}
	if size := proto.Size(in); size > maxTaskSize {
		return nil, invalidf("task size %d bytes exceeds the maximum of %d bytes (100KB)", size, maxTaskSize)
	}
	if in.GetName() != "" {
		if err := checkTaskName(in.GetName()); err != nil {
			return nil, err
		}
		if queueOf(in.GetName()) != parent {
			return nil, invalidf("task name %q is not in queue %q", in.GetName(), parent)
		}
	}
	if err := validateHTTPRequest(in.GetHttpRequest()); err != nil {
		return nil, err
	}
	if err := validateRetryConfig("task.retry_config", in.GetRetryConfig()); err != nil {
		return nil, err
	}
	deadline := defaultDeadline
	if d := in.GetDispatchDeadline(); d != nil {
		deadline = d.AsDuration().Truncate(time.Millisecond)
		if deadline < minDeadline || deadline > maxDeadline {
			return nil, invalidf("dispatch_deadline must be between %v and %v, got %v", minDeadline, maxDeadline, d.AsDuration())
		}
	}

	pb := &cloudtaskspb.Task{
		Name:             in.GetName(),
		MessageType:      &cloudtaskspb.Task_HttpRequest{HttpRequest: proto.Clone(in.GetHttpRequest()).(*cloudtaskspb.HttpRequest)},
		DispatchDeadline: durationpb.New(deadline),
		View:             cloudtaskspb.Task_FULL,
	}
	if rc := in.GetRetryConfig(); rc != nil {
		pb.RetryConfig = proto.Clone(rc).(*cloudtaskspb.RetryConfig)
	}
	if pb.GetHttpRequest().HttpMethod == cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
		pb.GetHttpRequest().HttpMethod = cloudtaskspb.HttpMethod_POST
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[parent]
	if !ok {
		return nil, queueNotFound(parent)
	}
	now := s.clock.Now()
	at := now
	if st := in.GetScheduleTime(); st != nil {
		if err := st.CheckValid(); err != nil {
			return nil, invalidf("invalid schedule_time: %v", err)
		}
		if t := st.AsTime(); t.After(now) {
			if t.Sub(now) > maxScheduleAhead {
				return nil, invalidf("schedule_time %s is more than 30 days in the future", t.Format(time.RFC3339))
			}
			at = t
		}
	}
	at = at.Truncate(time.Microsecond)
	if pb.Name == "" {
		pb.Name = s.newTaskNameLocked(q)
	} else if err := s.checkNameFreeLocked(q, pb.Name, now); err != nil {
		return nil, err
	}
	pb.ScheduleTime = timestamppb.New(at)
	pb.CreateTime = timestamppb.New(now.Truncate(time.Second))
	s.seq++
	t := &task{pb: pb, scheduleAt: at, seq: s.seq, index: -1}
	q.tasks[pb.Name] = t
	q.ready.push(t)
	q.nudge()
	s.notifyLocked()
	return viewOf(pb, req.GetResponseView()), nil
}

// checkNameFreeLocked reports ALREADY_EXISTS for a live or tombstoned task name.
func (s *Server) checkNameFreeLocked(q *queue, name string, now time.Time) error {
	if _, ok := q.tasks[name]; ok {
		return status.Errorf(codes.AlreadyExists, "task %s already exists", name)
	}
	if until, ok := s.tombstones[name]; ok {
		if now.Before(until) {
			return status.Errorf(codes.AlreadyExists, "task %s was deleted or executed recently; its name is reserved until %s",
				name, until.UTC().Format(time.RFC3339))
		}
		delete(s.tombstones, name)
	}
	s.tombSweep++
	if s.tombSweep >= tombstoneSweepPeriod {
		s.tombSweep = 0
		s.sweepTombstonesLocked(now)
	}
	return nil
}

// tombstone is a name that became reserved, and until when.
type tombstone struct {
	name  string
	until time.Time
}

// sweepTombstonesLocked forgets the expired tombstones, oldest first, looking at no live one
// but the first. A name tombstoned again since has a later until in the map and stays.
// Callers hold s.mu.
func (s *Server) sweepTombstonesLocked(now time.Time) {
	for s.tombHead < len(s.tombOrder) {
		s.tombVisits++
		ts := s.tombOrder[s.tombHead]
		if now.Before(ts.until) {
			break
		}
		if until, ok := s.tombstones[ts.name]; ok && !now.Before(until) {
			delete(s.tombstones, ts.name)
		}
		s.tombOrder[s.tombHead] = tombstone{}
		s.tombHead++
	}
	if s.tombHead > len(s.tombOrder)/2 { // let the popped half go
		s.tombOrder = append(s.tombOrder[:0:0], s.tombOrder[s.tombHead:]...)
		s.tombHead = 0
	}
}

// newTaskNameLocked returns an unused name with a numeric ID like those production generates.
func (s *Server) newTaskNameLocked(q *queue) string {
	for {
		name := q.name + "/tasks/" + strconv.FormatUint(rand.Uint64(), 10)
		if _, ok := q.tasks[name]; !ok {
			if _, ok := s.tombstones[name]; !ok {
				return name
			}
		}
	}
}

// validateHTTPRequest applies the HttpRequest field rules.
func validateHTTPRequest(hr *cloudtaskspb.HttpRequest) error {
	u, err := url.Parse(hr.GetUrl())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidf("http_request.url must be an absolute http:// or https:// URL, got %q", hr.GetUrl())
	}
	if len(hr.GetUrl()) > maxURLLength {
		return invalidf("http_request.url is %d characters, more than the maximum of %d", len(hr.GetUrl()), maxURLLength)
	}
	if len(hr.GetBody()) > 0 {
		switch hr.GetHttpMethod() {
		case cloudtaskspb.HttpMethod_POST, cloudtaskspb.HttpMethod_PUT, cloudtaskspb.HttpMethod_PATCH, cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED:
		default:
			return invalidf("http_request.body is allowed only with POST, PUT or PATCH, not %s", hr.GetHttpMethod())
		}
	}
	size := 0
	for k, v := range hr.GetHeaders() {
		size += len(k) + len(v)
	}
	if size >= maxHeadersSize {
		return invalidf("http_request.headers total %d bytes; they must be less than 80KB", size)
	}
	if oidc := hr.GetOidcToken(); oidc != nil && oidc.GetServiceAccountEmail() == "" {
		return invalidf("http_request.oidc_token.service_account_email is required")
	}
	if oauth := hr.GetOauthToken(); oauth != nil && oauth.GetServiceAccountEmail() == "" {
		return invalidf("http_request.oauth_token.service_account_email is required")
	}
	return nil
}

// viewOf returns a copy of t in the requested view; BASIC (the default) omits the body.
func viewOf(t *cloudtaskspb.Task, view cloudtaskspb.Task_View) *cloudtaskspb.Task {
	c := proto.Clone(t).(*cloudtaskspb.Task)
	if view != cloudtaskspb.Task_FULL {
		c.View = cloudtaskspb.Task_BASIC
		if hr := c.GetHttpRequest(); hr != nil {
			hr.Body = nil
		}
		return c
	}
	c.View = cloudtaskspb.Task_FULL
	return c
}

// lookupTaskLocked finds a task by name. Callers hold s.mu.
func (s *Server) lookupTaskLocked(name string) (*queue, *task, error) {
	if err := checkTaskName(name); err != nil {
		return nil, nil, err
	}
	q, ok := s.queues[queueOf(name)]
	if !ok {
		return nil, nil, queueNotFound(queueOf(name))
	}
	t, ok := q.tasks[name]
	if !ok {
		return nil, nil, taskNotFound(name)
	}
	return q, t, nil
}

// GetTask returns a task.
func (s *Server) GetTask(ctx context.Context, req *cloudtaskspb.GetTaskRequest) (*cloudtaskspb.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, t, err := s.lookupTaskLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return viewOf(t.pb, req.GetResponseView()), nil
}

// ListTasks lists a queue's tasks, ordered by name.
func (s *Server) ListTasks(ctx context.Context, req *cloudtaskspb.ListTasksRequest) (*cloudtaskspb.ListTasksResponse, error) {
	if err := checkQueueName(req.GetParent()); err != nil {
		return nil, err
	}
	size, after, err := pageParams(req.GetPageSize(), req.GetPageToken(), maxTaskPageSize)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[req.GetParent()]
	if !ok {
		return nil, queueNotFound(req.GetParent())
	}
	var names []string
	for name := range q.tasks {
		if name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	resp := &cloudtaskspb.ListTasksResponse{}
	if len(names) > size {
		names = names[:size]
		resp.NextPageToken = pageToken(names[size-1])
	}
	for _, n := range names {
		resp.Tasks = append(resp.Tasks, viewOf(q.tasks[n].pb, req.GetResponseView()))
	}
	return resp, nil
}

// DeleteTask deletes a task; its name stays reserved for the tombstone TTL.
func (s *Server) DeleteTask(ctx context.Context, req *cloudtaskspb.DeleteTaskRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, t, err := s.lookupTaskLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	s.removeTaskLocked(q, t, s.clock.Now())
	q.nudge()
	s.notifyLocked()
	return &emptypb.Empty{}, nil
}

// removeTaskLocked deletes t from q and tombstones its name. Callers hold s.mu.
func (s *Server) removeTaskLocked(q *queue, t *task, now time.Time) {
	q.removeReady(t)
	delete(q.tasks, t.pb.Name)
	t.gone = true
	until := now.Add(s.cfg.tombstoneTTL)
	s.tombstones[t.pb.Name] = until
	s.tombOrder = append(s.tombOrder, tombstone{name: t.pb.Name, until: until})
}

// RunTask dispatches a task now, even if the queue is paused, rate limited
// or the task is already running, and returns it.
func (s *Server) RunTask(ctx context.Context, req *cloudtaskspb.RunTaskRequest) (*cloudtaskspb.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, t, err := s.lookupTaskLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if s.closed {
		return nil, status.Error(codes.Unavailable, "the emulator is shutting down")
	}
	q.removeReady(t)
	s.startAttemptLocked(q, t, s.clock.Now(), true)
	return viewOf(t.pb, req.GetResponseView()), nil
}

// push adds t to the heap of tasks waiting for their schedule time.
func (h *taskHeap) push(t *task) {
	if t.index < 0 {
		heapPush(h, t)
	}
}
