package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// retrySet is the body of a retry expansion task: shards to reset and enqueue under a
// generation, and pending shards to enqueue again under the generation that reset them. A set
// of a walk (Walk) then hands the next page of the job's failed and pending shards, after shard
// id After, to the next retry expansion task; After "" ends the walk.
type retrySet struct {
	Generation        int    `json:"generation"`
	Indexes           []int  `json:"indexes"`
	Pending           []int  `json:"pending,omitempty"`
	PendingGeneration int    `json:"pending_generation,omitempty"`
	Walk              bool   `json:"walk,omitempty"`
	After             string `json:"after,omitempty"`
}

// retryStates are the shard states a retry enqueues: failed ones under a new generation, and
// pending ones (an earlier retry reset them and may have died before their task was created)
// under the generation that reset them.
var retryStates = []string{backfill.ShardFailed, backfill.ShardPending}

// retryPage is how many shards one retry request or retry expansion task reads and enqueues:
// at most a sweep's page (backfill.ShardPageSize), and at most ENQUEUE_SLICE, so a retry's
// memory and creates per request are bounded whatever the number of failed shards.
func (s *Service) retryPage() int { return min(backfill.ShardPageSize, s.cfg.EnqueueSlice) }

// retry handles POST /backfills/{id}:retry. Failed shards and the shards an earlier retry reset
// without getting to enqueue them (pending, no outcome since) are run again: a shard moves
// back to pending only in the step that then creates its task, named by job, generation and
// index, so a step that dies is repeated (by the queue, or by calling :retry again) and creates
// nothing twice. The request reads one page of such shards (retryPage); when that is all of
// them it resets and enqueues them itself, otherwise it hands the page to a retry expansion
// task, which enqueues it and reads the next page after it, a walk in shard id order that sees
// each shard once.
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
	page, after, err := s.store.ShardsPage(ctx, id, retryStates, "", s.retryPage())
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	if len(page) == 0 {
		writeJSON(w, http.StatusOK, RetryResponse{JobID: id, StatusURL: s.statusURL(id)})
		return
	}
	walk := len(page) == s.retryPage() // maybe more after this page
	retried := 0
	if walk {
		// The failed and pending shards there are now are those the walk retries. The count
		// only informs the answer: when it fails (an aggregation answers DEADLINE_EXCEEDED past
		// 60 s, https://cloud.google.com/firestore/docs/query-data/aggregation-queries), the
		// walk still starts and the answer counts the first page.
		if retried, err = s.store.CountShards(ctx, id, retryStates); err != nil {
			s.log.WarnContext(ctx, "counting the shards a retry walks", "job_id", id, "error", err)
			retried = len(page)
		}
	}
	// Pending shards go again under the generation that reset them (the job's retry count
	// before this call): a task of theirs that does exist is then found, not duplicated.
	// Failed shards go under a new generation, counted only when there are some.
	set := retrySet{PendingGeneration: job.Retries, Walk: walk, After: after}
	if walk || slices.ContainsFunc(page, func(p backfill.PagedShard) bool { return p.State == backfill.ShardFailed }) {
		if set.Generation, err = s.store.NextRetry(ctx, id); err != nil {
			s.storeError(w, r, id, err)
			return
		}
	}
	set.fill(page)
	log := s.log.With("job_id", id, "failed", len(set.Indexes), "pending", len(set.Pending), "generation", set.Generation, "walk", walk)
	var res taskqueue.Result
	if walk {
		res, err = s.createRetryWalk(ctx, plan, set, "")
	} else {
		res, err = s.retryShards(ctx, plan, set)
		retried = res.Created
		log = log.With("created", res.Created, "already_existed", res.AlreadyExisted)
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

// fill sorts a page into the set: failed shards to Indexes, pending ones to Pending. A failed
// shard found by a set without a generation (no shard was failed when the retry began) is left
// for the next :retry.
func (set *retrySet) fill(page []backfill.PagedShard) {
	set.Indexes, set.Pending = []int{}, nil
	for _, p := range page {
		switch {
		case p.State == backfill.ShardPending && set.PendingGeneration >= 1:
			set.Pending = append(set.Pending, p.Index)
		case p.State == backfill.ShardFailed && set.Generation >= 1:
			set.Indexes = append(set.Indexes, p.Index)
		}
	}
}

// retryShards resets the set's failed shards to pending and creates their tasks, creates the
// tasks of its pending shards again under their generation, and, for a set of a walk, hands the
// next page to the next retry expansion task. The next page starts after the set's last shard
// id, so the shards this set resets are not in it, and its task is named by that id: a set
// delivered again creates the same task, which dedups, even when its page read differently.
func (s *Service) retryShards(ctx context.Context, plan *backfill.Plan, set retrySet) (taskqueue.Result, error) {
	var sum taskqueue.Result
	add := func(r taskqueue.Result) {
		sum.Created += r.Created
		sum.AlreadyExisted += r.AlreadyExisted
		sum.Failed = append(sum.Failed, r.Failed...)
	}
	if len(set.Indexes) > 0 {
		if _, err := s.store.ResetShards(ctx, plan.JobID, set.Indexes); err != nil {
			return sum, err
		}
		res, err := s.createWorkers(ctx, plan, set.Indexes, set.Generation)
		add(res)
		if err != nil {
			return sum, err
		}
	}
	if len(set.Pending) > 0 {
		res, err := s.createWorkers(ctx, plan, set.Pending, set.PendingGeneration)
		add(res)
		if err != nil {
			return sum, err
		}
	}
	if !set.Walk || set.After == "" {
		return sum, nil
	}
	page, after, err := s.store.ShardsPage(ctx, plan.JobID, retryStates, set.After, s.retryPage())
	if err != nil || len(page) == 0 {
		return sum, err
	}
	next := retrySet{Generation: set.Generation, PendingGeneration: set.PendingGeneration, Walk: true}
	if len(page) == s.retryPage() {
		next.After = after
	}
	next.fill(page)
	res, err := s.createRetryWalk(ctx, plan, next, set.After)
	add(res)
	return sum, err
}

// createRetryWalk creates the retry expansion task of a walk's set, the page after shard id
// cursor, named by the walk's generations and cursor.
func (s *Service) createRetryWalk(ctx context.Context, plan *backfill.Plan, set retrySet, cursor string) (taskqueue.Result, error) {
	body, err := json.Marshal(set)
	if err != nil {
		return taskqueue.Result{}, fmt.Errorf("encoding a retry set of %s: %w", plan.JobID, err)
	}
	sum := sha256.Sum256([]byte(cursor))
	task := taskqueue.Task{
		Name: plan.JobID + "/r" + strconv.Itoa(set.Generation) + "-" + strconv.Itoa(set.PendingGeneration) + "/" + hex.EncodeToString(sum[:8]),
		URL:  s.statusURL(plan.JobID) + ":expand", Body: body,
		Headers:            map[string]string{"Content-Type": "application/json"},
		OIDCServiceAccount: s.cfg.TasksServiceAccount, OIDCAudience: s.cfg.BackfillURL,
	}
	res, err := s.controlEnqueue(ctx, []taskqueue.Task{task}, func(int) int { return 0 })
	if err != nil {
		return res, fmt.Errorf("creating a retry expansion task of %s: %w", plan.JobID, err)
	}
	return res, nil
}
