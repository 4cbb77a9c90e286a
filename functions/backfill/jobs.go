package backfill

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// queueHeader is set by Cloud Tasks on every task it delivers. Requiring it keeps people from
// expanding ranges by hand; it is not authentication: the function's IAM invoker binding and
// the tasks' OIDC tokens are what keep others out.
const queueHeader = "X-CloudTasks-QueueName"

// maxExpandBytes bounds an expansion task's body, {"from":N,"to":M} or a retry set of up to
// ENQUEUE_SLICE indexes.
const maxExpandBytes = 1 << 20

// status handles GET /backfills/{id}.
func (s *Service) status(w http.ResponseWriter, r *http.Request, id string) {
	st, err := s.store.Status(r.Context(), id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	if st, err = s.statusSweep(r.Context(), st); err != nil {
		s.storeError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// expand handles POST /backfills/{id}:expand, which only Cloud Tasks calls. Its answer is the
// retry decision: 2xx ends the task, 5xx (a store or queue failure) makes Cloud Tasks deliver
// it again, which is safe because every task it creates has a name derived from job and
// range. A 4xx (unknown job, bad range) cannot get better, but Cloud Tasks retries it anyway
// until the queue's max_attempts.
func (s *Service) expand(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	if r.Header.Get(queueHeader) == "" {
		writeError(w, http.StatusForbidden, "expansion is for Cloud Tasks only (no "+queueHeader+" header)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExpandBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var in struct {
		backfill.Range
		retrySet
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be {"from":N,"to":M} or {"generation":G,"indexes":[...]}: `+err.Error())
		return
	}
	rg := in.Range
	job, err := s.store.GetJob(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	if job.Cancelled {
		writeJSON(w, http.StatusOK, ExpandResponse{JobID: id, From: rg.From, To: rg.To, Kind: kindSkipped})
		return
	}
	plan, err := s.jobPlan(job)
	if err != nil {
		s.log.ErrorContext(ctx, "planning a stored backfill job", "job_id", id, "error", err)
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: err.Error(), JobID: id})
		return
	}
	if in.Indexes != nil {
		s.expandRetry(w, r, plan, in.retrySet)
		return
	}
	if rg.From < 0 || rg.From >= rg.To || rg.To > plan.Tasks {
		writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: fmt.Sprintf("range [%d, %d) is not within the job's %d tasks", rg.From, rg.To, plan.Tasks), JobID: id})
		return
	}
	res, kind, err := s.enqueueRange(ctx, plan, rg)
	log := s.log.With("job_id", id, "from", rg.From, "to", rg.To, "kind", kind, "created", res.Created, "already_existed", res.AlreadyExisted)
	if err != nil {
		log.ErrorContext(ctx, "expanding backfill range", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: err.Error(), JobID: id})
		return
	}
	log.InfoContext(ctx, "expanded backfill range")
	writeJSON(w, http.StatusOK, ExpandResponse{JobID: id, From: rg.From, To: rg.To, Kind: kind, Created: res.Created, AlreadyExisted: res.AlreadyExisted})
}

// expandRetry runs a retry expansion task: it resets its shards and creates their tasks.
func (s *Service) expandRetry(w http.ResponseWriter, r *http.Request, plan *backfill.Plan, set retrySet) {
	ctx := r.Context()
	for _, part := range []struct {
		generation int
		indexes    []int
	}{{set.Generation, set.Indexes}, {set.PendingGeneration, set.Pending}} {
		for _, i := range part.indexes {
			if i < 0 || i >= plan.Tasks || part.generation < 1 {
				writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: fmt.Sprintf("retry set (generation %d, index %d) is not within the job's %d tasks", part.generation, i, plan.Tasks), JobID: plan.JobID})
				return
			}
		}
	}
	res, err := s.retryShards(ctx, plan, set)
	log := s.log.With("job_id", plan.JobID, "generation", set.Generation, "shards", len(set.Indexes), "pending", len(set.Pending), "walk", set.Walk, "created", res.Created, "already_existed", res.AlreadyExisted)
	if err != nil {
		log.ErrorContext(ctx, "expanding a backfill retry", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: err.Error(), JobID: plan.JobID})
		return
	}
	log.InfoContext(ctx, "expanded a backfill retry")
	writeJSON(w, http.StatusOK, ExpandResponse{JobID: plan.JobID, Kind: kindRetry, Created: res.Created, AlreadyExisted: res.AlreadyExisted})
}

// jobPlan plans a stored job again; the plan must match the one the job was created with.
func (s *Service) jobPlan(job *backfill.Job) (*backfill.Plan, error) {
	spec, err := job.LoadSpec()
	if err != nil {
		return nil, err
	}
	plan, err := spec.Plan()
	if err != nil {
		return nil, fmt.Errorf("planning backfill job %s: %w", job.ID, err)
	}
	if plan.JobID != job.ID || plan.Tasks != job.Planned {
		return nil, fmt.Errorf("backfill job %s plans as %s with %d tasks, not the %d it was created with", job.ID, plan.JobID, plan.Tasks, job.Planned)
	}
	return plan, nil
}

// cancel handles POST /backfills/{id}:cancel. Workers check the job and record their tasks
// cancelled without calling the API; expansion tasks stop creating tasks. A job that already
// ended is left as it ended, and the answer says so.
func (s *Service) cancel(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	changed, st, err := s.store.CancelUnlessEnded(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	msg := "cancelled: workers record the remaining tasks cancelled without calling the API"
	if !changed {
		msg = "the job already ended (" + st.State + "); nothing changed"
	}
	s.log.InfoContext(ctx, "cancel of backfill job", "job_id", id, "changed", changed, "state", st.State)
	writeJSON(w, http.StatusOK, CancelResponse{Status: *st, Changed: changed, Message: msg})
}
