package backfill

import (
	"context"
	"fmt"
)

// Ended reports whether a reported job state is final: done, done_with_failures or cancelled.
// Blocked is not: it waits for a person to unblock the job.
func Ended(state string) bool {
	return state == JobDone || state == JobDoneWithFailures || state == JobCancelled
}

// CancelUnlessEnded cancels the job unless it already ended (done, done_with_failures or
// cancelled), in which case nothing changes; changed says which happened, and st is the
// job's status afterwards. A job whose last task finishes between the read and the write is
// cancelled with every task accounted for: its counts still say what ran.
func (s *Store) CancelUnlessEnded(ctx context.Context, id string) (changed bool, st *Status, err error) {
	st, err = s.Status(ctx, id)
	if err != nil {
		return false, nil, err
	}
	if Ended(st.State) {
		return false, st, nil
	}
	if err := s.Cancel(ctx, id); err != nil {
		return false, nil, err
	}
	if st, err = s.Status(ctx, id); err != nil {
		return true, nil, fmt.Errorf("reading backfill job %s after cancelling it: %w", id, err)
	}
	return true, st, nil
}
