package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/jobnotice"
)

// noticeGrace is how old a pending notice must be before the scheduled sweep publishes it
// again: longer than a publish may take (the client's 60 s timeout, publish.DefaultSettings)
// plus the record after it, so that a sweep does not duplicate the notice of an end another
// instance is still publishing. A duplicate is harmless (same notice_id), only avoidable.
const noticeGrace = 2 * time.Minute

// NoticePublisher publishes a job notice and waits for Pub/Sub's answer (jobnotice.Publisher).
type NoticePublisher interface {
	Publish(ctx context.Context, n jobnotice.Notice) (messageID string, err error)
}

// WithNotices sets the publisher of job notices; without it, ends are recorded and their
// notices stay pending.
func WithNotices(p NoticePublisher) Option { return func(s *Service) { s.notices = p } }

// endIfEnded stores the end of a job whose status st shows it ended.
func (s *Service) endIfEnded(ctx context.Context, st *backfill.Status) error {
	switch {
	case st.State == backfill.JobDone || st.State == backfill.JobDoneWithFailures:
		return s.end(ctx, st, st.State)
	case st.State == backfill.JobCancelled && st.Counts.Succeeded+st.Counts.Failed+st.Counts.Cancelled >= st.Counts.Planned:
		return s.end(ctx, st, backfill.JobCancelledSwept)
	}
	return nil
}

// end stores that the job ended in state and, when this call decided the end, publishes its
// notice. The end is stored first: a notice that then fails stays pending for the scheduled
// sweep, so no end goes without one.
func (s *Service) end(ctx context.Context, st *backfill.Status, state string) error {
	e, err := s.store.MarkEnded(ctx, st, state)
	if err != nil || e == nil {
		return err
	}
	// Logged only by the call that decided the end: the backfill_jobs_ended log-based metric
	// counts these lines by state (terraform/monitoring.tf).
	s.log.InfoContext(ctx, "backfill job ended", "job_id", e.JobID, "state", e.State, "end_seq", e.Seq,
		"generation", e.Generation, "planned", e.Counts.Planned, "succeeded", e.Counts.Succeeded, "failed", e.Counts.Failed, "cancelled", e.Counts.Cancelled)
	return s.notify(ctx, e)
}

// notify publishes e's notice, then records it published.
func (s *Service) notify(ctx context.Context, e *backfill.End) error {
	if s.notices == nil {
		return nil
	}
	n := jobnotice.FromEnd(*e)
	id, err := s.notices.Publish(ctx, n)
	if err != nil {
		return fmt.Errorf("notice of backfill job %s left pending for the scheduled sweep: %w", e.JobID, err)
	}
	if err := s.store.MarkNotified(ctx, e); err != nil {
		return err // published: the sweep publishes it again, with the same notice_id
	}
	s.log.InfoContext(ctx, "published backfill job notice", "job_id", e.JobID, "notice_id", n.NoticeID, "state", n.State, "message_id", id)
	return nil
}

// republishNotices publishes the pending notices of up to sweepJobs jobs that ended at least
// noticeGrace ago: those a crash or a failed publish left behind.
func (s *Service) republishNotices(ctx context.Context) error {
	if s.notices == nil {
		return nil
	}
	ends, err := s.store.PendingNotices(ctx, s.sweepJobs)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ends {
		if s.sweepNow().Sub(e.EndedAt) < noticeGrace {
			continue
		}
		s.log.WarnContext(ctx, "publishing a pending backfill job notice again", "job_id", e.JobID, "end_seq", e.Seq, "ended_at", e.EndedAt)
		errs = append(errs, s.notify(ctx, e))
	}
	return errors.Join(errs...)
}
