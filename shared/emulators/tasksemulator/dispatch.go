package tasksemulator

import (
	"container/heap"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// dispatchLoop is a queue's dispatcher: it starts attempts for due tasks as
// the queue's state, concurrency limit and token bucket allow, and sleeps on
// the injected clock until the next task is due or something changes.
func (s *Server) dispatchLoop(q *queue) {
	defer s.work.Done()
	for {
		s.mu.Lock()
		wakeAt, timed := s.dispatchDueLocked(q)
		s.mu.Unlock()
		var timer <-chan time.Time
		if timed {
			timer = s.at(wakeAt)
		}
		select {
		case <-q.stop:
			return
		case <-s.ctx.Done():
			return
		case <-q.wake:
		case <-timer:
		}
	}
}

// dispatchDueLocked starts every attempt allowed now and returns when to look
// again (timed false: only when woken). Callers hold s.mu.
func (s *Server) dispatchDueLocked(q *queue) (time.Time, bool) {
	for {
		if s.closed || q.pb.GetState() != cloudtaskspb.Queue_RUNNING || len(q.ready) == 0 {
			return time.Time{}, false
		}
		if q.inflight >= int(q.pb.GetRateLimits().GetMaxConcurrentDispatches()) {
			return time.Time{}, false // an attempt finishing wakes us
		}
		t := q.ready[0]
		now := s.clock.Now()
		if t.scheduleAt.After(now) {
			return t.scheduleAt, true
		}
		r := q.limiter.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			return now.Add(d), true
		}
		heap.Pop(&q.ready)
		s.startAttemptLocked(q, t, now, false)
	}
}

// at returns a channel that fires once the clock reads t or later. A clock
// that can wait for an absolute time (FakeClock) is asked to, so that a test
// advancing the clock between our Now and our wait cannot strand the wait.
func (s *Server) at(t time.Time) <-chan time.Time {
	if ac, ok := s.clock.(interface {
		AfterTime(time.Time) <-chan time.Time
	}); ok {
		return ac.AfterTime(t)
	}
	return s.clock.After(t.Sub(s.clock.Now()))
}

// startAttemptLocked marks an attempt dispatched and runs it in the
// background. Callers hold s.mu and have taken t out of the ready heap.
func (s *Server) startAttemptLocked(q *queue, t *task, now time.Time, forced bool) {
	retryCount := int(t.pb.DispatchCount)
	t.pb.DispatchCount++
	ts := timestamppb.New(now.Truncate(time.Microsecond))
	att := &cloudtaskspb.Attempt{ScheduleTime: t.pb.GetScheduleTime(), DispatchTime: ts}
	if t.pb.FirstAttempt == nil {
		// The reference: only dispatch_time is kept for the first attempt.
		t.pb.FirstAttempt = &cloudtaskspb.Attempt{DispatchTime: ts}
		t.firstAttempt = now
	}
	t.pb.LastAttempt = att
	t.running++
	q.inflight++
	p := s.planLocked(q, t, retryCount, now)
	p.attempt = att
	p.forced = forced
	s.work.Add(1)
	go s.runAttempt(p)
}

// finishAttemptLocked applies an attempt's outcome: success deletes the task,
// failure schedules a retry per the retry config or drops an exhausted task.
// Callers hold s.mu.
func (s *Server) finishAttemptLocked(p *attemptPlan, r attemptResult) {
	q, t := p.q, p.t
	now := s.clock.Now()
	t.running--
	q.inflight--
	s.appendRecordLocked(p, r, now)
	defer func() {
		q.nudge()
		s.notifyLocked()
	}()
	if t.gone {
		return
	}
	p.attempt.ResponseTime = timestamppb.New(now.Truncate(time.Microsecond))
	p.attempt.ResponseStatus = responseStatus(r)
	if r.status != 0 {
		t.pb.ResponseCount++
	}
	if r.status >= 200 && r.status <= 299 {
		s.removeTaskLocked(q, t, now)
		return
	}
	t.prevResponse = r.status
	t.retryReason = retryReason(r)
	if r.status != 0 && r.status < 500 {
		// X-CloudTasks-TaskExecutionCount excludes 5XX failures and attempts without a response.
		t.execCount++
	}
	rc := effectiveRetry(q, t)
	if exhausted(rc, int(t.pb.DispatchCount), t.firstAttempt, now) {
		s.logger.Info("cloud tasks emulator: dropping task after its last attempt",
			"task", t.pb.Name, "attempts", t.pb.DispatchCount, "status", r.status, "error", r.errText())
		s.removeTaskLocked(q, t, now)
		return
	}
	if t.running > 0 {
		return // a concurrent attempt (RunTask) is still out; its outcome decides
	}
	delay := backoff(rc, int(t.pb.DispatchCount))
	if r.status == 429 || r.status == 503 {
		// HttpRequest reference: on 429 and 503 "the retry specified in the
		// Retry-After HTTP response header is considered"; we wait at least that long.
		if ra, ok := retryAfter(r.header, now); ok && ra > delay {
			delay = ra
		}
	}
	next := now.Add(delay).Truncate(time.Microsecond)
	t.scheduleAt = next
	t.pb.ScheduleTime = timestamppb.New(next)
	q.ready.push(t)
}
