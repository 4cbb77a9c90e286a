package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// Created is the Backfill function's answer to a new job.
type Created struct {
	JobID        string `json:"job_id"`
	Created      bool   `json:"created"`
	PlannedTasks int    `json:"planned_tasks"`
	APICalls     int    `json:"api_calls"`
	StatusURL    string `json:"status_url"`
	State        string `json:"state"`
}

// StartBackfill posts a spec to the Backfill function, as a user does.
func (s *Stack) StartBackfill(ctx context.Context, spec []byte) (*Created, error) {
	var c Created
	if err := s.backfillCall(ctx, http.MethodPost, "/backfills", spec, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// BackfillStatus reads a job's status from the Backfill function.
func (s *Stack) BackfillStatus(ctx context.Context, job string) (*backfill.Status, error) {
	var st backfill.Status
	if err := s.backfillCall(ctx, http.MethodGet, "/backfills/"+job, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// BackfillAction posts :retry or :cancel for a job.
func (s *Stack) BackfillAction(ctx context.Context, job, action string) error {
	return s.backfillCall(ctx, http.MethodPost, "/backfills/"+job+":"+action, nil, nil)
}

// SweepBackfills runs the sweep's Cloud Scheduler job once: every running job's lost tasks are
// found and re-enqueued or accounted for.
func (s *Stack) SweepBackfills(ctx context.Context) error {
	if s.Backfill == nil {
		return fmt.Errorf("the stack was started without the backfill services")
	}
	return s.RunSchedulerJob(ctx, SweepJob)
}

// SweepJob is the Cloud Scheduler job that sweeps backfills, as Terraform names it.
const SweepJob = "backfill-sweep"

// RunSchedulerJob sends the request Cloud Scheduler sends when job (Terraform's name) fires: its
// method, path and body, with Scheduler's headers, to the function it targets.
func (s *Stack) RunSchedulerJob(ctx context.Context, job string) error {
	t, err := Topology()
	if err != nil {
		return err
	}
	j, ok := t.SchedulerJob(job)
	if !ok {
		return fmt.Errorf("terraform declares no scheduler job %q", job)
	}
	url := s.Functions.URL + "/" + j.HTTP.Target.Function + j.HTTP.Target.Path
	req, err := pushdelivery.SchedulerRequest(ctx, url, j.HTTP.Method, []byte(j.HTTP.Body), pushdelivery.SchedulerJob{
		Name:         fmt.Sprintf("projects/%s/locations/%s/jobs/%s", s.Project, j.Region, j.Name),
		ScheduleTime: time.Now().Truncate(time.Minute),
		Headers:      j.HTTP.Headers,
	}, "")
	if err != nil {
		return fmt.Errorf("scheduler job %s: %w", job, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scheduler job %s: %w", job, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("scheduler job %s: %s %s: %s: %s", job, j.HTTP.Method, j.HTTP.Target.Path, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

func (s *Stack) backfillCall(ctx context.Context, method, path string, body []byte, out any) error {
	if s.Backfill == nil {
		return fmt.Errorf("the stack was started without the backfill services")
	}
	req, err := http.NewRequestWithContext(ctx, method, s.Backfill.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding %s: %w", method, path, b, err)
	}
	return nil
}

// Ended reports whether a job state is final.
func Ended(state string) bool {
	switch state {
	case backfill.JobDone, backfill.JobDoneWithFailures, backfill.JobCancelled, backfill.JobBlocked:
		return true
	}
	return false
}

// WaitBackfill polls a job until it ends or timeout passes; progress, when not nil, sees each poll.
func (s *Stack) WaitBackfill(ctx context.Context, job string, timeout time.Duration, progress func(*backfill.Status)) (*backfill.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.BackfillStatus(ctx, job)
		if err == nil {
			if progress != nil {
				progress(st)
			}
			if Ended(st.State) && st.Counts.Succeeded+st.Counts.Failed+st.Counts.Cancelled >= st.Counts.Planned {
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, err
			}
			return st, fmt.Errorf("backfill %s not ended after %s: %s, %d of %d tasks finished", job, timeout, st.State,
				st.Counts.Succeeded+st.Counts.Failed+st.Counts.Cancelled, st.Counts.Planned)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// RowTruth is what BigQuery holds for a job: rows, distinct (shard, row_index) keys, and rows in
// the dedup view.
type RowTruth struct {
	Rows, Keys, DedupRows int
}

// BackfillRows counts a job's rows in BigQuery.
func (s *Stack) BackfillRows(ctx context.Context, job string) (RowTruth, error) {
	q := fmt.Sprintf("SELECT (SELECT COUNT(*) FROM `%[1]s.%[2]s.%[3]s` WHERE job_id = '%[4]s' AND row_index >= 0) AS n, "+
		"(SELECT COUNT(*) FROM (SELECT DISTINCT shard, row_index FROM `%[1]s.%[2]s.%[3]s` WHERE job_id = '%[4]s' AND row_index >= 0)) AS k, "+
		"(SELECT COUNT(*) FROM `%[1]s.%[2]s.%[3]s_dedup` WHERE job_id = '%[4]s') AS d",
		s.Project, s.Dataset, warehouse.TableBackfillRows, job)
	r, err := s.Query(ctx, q)
	if err != nil {
		return RowTruth{}, fmt.Errorf("counting rows of backfill %s: %w", job, err)
	}
	return RowTruth{Rows: int(r.Int(0, "n")), Keys: int(r.Int(0, "k")), DedupRows: int(r.Int(0, "d"))}, nil
}

// NewRun returns spec with "new_run": true, which makes the Backfill function plan a new job
// (new task names) even when the same spec ran before.
func NewRun(spec []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(spec, &m); err != nil {
		return nil, fmt.Errorf("reading the backfill spec: %w", err)
	}
	m["new_run"] = true
	return json.Marshal(m)
}
