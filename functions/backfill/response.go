package backfill

import (
	"encoding/json"
	"net/http"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// ErrorResponse is the body of every refusal and failure.
type ErrorResponse struct {
	Error string `json:"error"`
	// Field is the JSON path of the spec field at fault, for 400s about a spec.
	Field string `json:"field,omitempty"`
	// JobID names the job when the failure happened after it was created.
	JobID string `json:"job_id,omitempty"`
	// Action names what to do instead, when the request cannot be done as asked (new_run: post
	// the job's spec again with "new_run": true).
	Action string `json:"action,omitempty"`
}

// DryRunResponse is the plan of a spec posted with dry_run: nothing is written.
type DryRunResponse struct {
	JobID    string `json:"job_id"`
	DryRun   bool   `json:"dry_run"`
	Tasks    int    `json:"tasks"`
	APICalls int    `json:"api_calls"`
	Units    int    `json:"units"`
	// Sample is the first tasks (up to 10), as workers will receive them.
	Sample []backfill.TaskSpec `json:"sample"`
	Chunks []backfill.Period   `json:"chunks,omitempty"`
}

// CreateResponse answers POST /backfills: 202 for a new job, 200 for the existing job of the
// same spec.
type CreateResponse struct {
	JobID        string `json:"job_id"`
	Created      bool   `json:"created"`
	PlannedTasks int    `json:"planned_tasks"`
	APICalls     int    `json:"api_calls"`
	// Enqueued is how many worker tasks exist so far; expansion tasks create the rest.
	Enqueued  int    `json:"enqueued"`
	StatusURL string `json:"status_url"`
	State     string `json:"state"`
}

// ExpandResponse answers an expansion task.
type ExpandResponse struct {
	JobID string `json:"job_id"`
	From  int    `json:"from"`
	To    int    `json:"to"`
	// Kind is "workers" when the range's worker tasks were created, "expansions" when it was
	// split into smaller expansion tasks, "skipped" when the job is cancelled.
	Kind           string `json:"kind"`
	Created        int    `json:"created"`
	AlreadyExisted int    `json:"already_existed"`
}

// RetryResponse answers POST /backfills/{id}:retry.
type RetryResponse struct {
	JobID     string `json:"job_id"`
	Retried   int    `json:"retried"`
	StatusURL string `json:"status_url"`
}

// CancelResponse answers POST /backfills/{id}:cancel: the job's status, and whether this call
// changed it (a job that already ended, or was already cancelled, is left as it is).
type CancelResponse struct {
	backfill.Status
	Changed bool   `json:"changed"`
	Message string `json:"message"`
}

// writeJSON answers status with v as JSON. An encoding error cannot happen for these types,
// and a write error means the client went away: neither leaves anything to do.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}
