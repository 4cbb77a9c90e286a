package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// retrySet is the body of a retry expansion task: shards to reset and enqueue under a
// generation.
type retrySet struct {
	Generation int   `json:"generation"`
	Indexes    []int `json:"indexes"`
}

// retry handles POST /backfills/{id}:retry. Failed shards and the shards an earlier retry reset
// without getting to enqueue them (pending, no outcome since) are run again: a shard moves
// back to pending only in the step that then creates its task, named by job, generation and
// index, so a step that dies is repeated (by the queue, or by calling :retry again) and creates
// nothing twice. Up to ENQUEUE_SLICE shards are reset and enqueued by this request; more are
// handed to retry expansion tasks of ENQUEUE_SLICE shards each, as the first enqueue does.
func (s *Service) retry(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	job, err := s.store.GetJob(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	if job.Cancelled {
		writeJSON(w, http.StatusConflict, ErrorResponse{JobID: id, Action: "new_run",
			Error: `the job is cancelled and cannot be retried; to run it again, post its spec with "new_run": true`})
		return
	}
	plan, err := s.jobPlan(job)
	if err != nil {
		s.log.ErrorContext(ctx, "planning a stored backfill job", "job_id", id, "error", err)
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: err.Error(), JobID: id})
		return
	}
	failed, err := s.store.FailedShards(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	var res taskqueue.Result
	pending, err := s.store.PendingShards(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	// Pending shards go again under the generation that reset them (the job's retry count
	// before this call): a task of theirs that does exist is then found, not duplicated.
	// Failed shards go under a new generation.
	sets := []retrySet{{Generation: job.Retries, Indexes: pending}}
	if len(failed) > 0 {
		generation, err := s.store.NextRetry(ctx, id)
		if err != nil {
			s.storeError(w, r, id, err)
			return
		}
		sets = append(sets, retrySet{Generation: generation, Indexes: failed})
	}
	total := len(failed) + len(pending)
	log := s.log.With("job_id", id, "failed", len(failed), "pending", len(pending), "generation", sets[len(sets)-1].Generation)
	if total == 0 {
		writeJSON(w, http.StatusOK, RetryResponse{JobID: id, StatusURL: s.statusURL(id)})
		return
	}
	retried := 0
	for _, set := range sets {
		if len(set.Indexes) == 0 {
			continue
		}
		if total <= s.cfg.EnqueueSlice {
			res, err = s.retryShards(ctx, plan, set)
			retried += res.Created
			log = log.With("created", res.Created, "already_existed", res.AlreadyExisted)
		} else {
			err = s.retryExpansions(ctx, plan, set.Generation, set.Indexes)
			retried += len(set.Indexes)
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		log.ErrorContext(ctx, "retrying failed backfill tasks", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{JobID: id,
			Error: "retrying failed tasks: " + err.Error() + "; POST :retry again to finish (nothing is created twice)"})
		return
	}
	log.InfoContext(ctx, "retrying failed backfill tasks")
	status := http.StatusAccepted
	if retried == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, RetryResponse{JobID: id, Retried: retried, StatusURL: s.statusURL(id)})
}

// retryShards resets the set's failed shards to pending and creates their tasks.
func (s *Service) retryShards(ctx context.Context, plan *backfill.Plan, set retrySet) (taskqueue.Result, error) {
	if _, err := s.store.ResetShards(ctx, plan.JobID, set.Indexes); err != nil {
		return taskqueue.Result{}, err
	}
	return s.createWorkers(ctx, plan, set.Indexes, set.Generation)
}

// retryExpansions hands indexes to retry expansion tasks of EnqueueSlice shards each, named by
// generation and content, so a repeated :retry of the same set creates none twice.
func (s *Service) retryExpansions(ctx context.Context, plan *backfill.Plan, generation int, indexes []int) error {
	var tasks []taskqueue.Task
	for from := 0; from < len(indexes); from += s.cfg.EnqueueSlice {
		set := retrySet{Generation: generation, Indexes: indexes[from:min(from+s.cfg.EnqueueSlice, len(indexes))]}
		body, err := json.Marshal(set)
		if err != nil {
			return fmt.Errorf("encoding a retry set of %s: %w", plan.JobID, err)
		}
		sum := sha256.Sum256(body)
		tasks = append(tasks, taskqueue.Task{
			Name: plan.JobID + "/r" + strconv.Itoa(generation) + "/" + hex.EncodeToString(sum[:8]),
			URL:  s.statusURL(plan.JobID) + ":expand", Body: body,
			Headers:            map[string]string{"Content-Type": "application/json"},
			OIDCServiceAccount: s.cfg.TasksServiceAccount, OIDCAudience: s.cfg.BackfillURL,
		})
	}
	if _, err := s.queues.enqueue(ctx, tasks, func(j int) int { return j }); err != nil {
		return fmt.Errorf("creating retry expansion tasks of %s: %w", plan.JobID, err)
	}
	return nil
}
